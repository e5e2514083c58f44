/**
 * Loads MuJoCo (mujoco-js, WebAssembly) once per process and compiles MJCF text into a model.
 * The module's virtual file system is the only way in for XML, so each model is written to a
 * fresh file there and removed after loading.
 */
import loadMujoco, { type MainModule, type MjModel } from 'mujoco-js';

let modulePromise: Promise<MainModule> | undefined;
let fileCounter = 0;

export function mujocoModule(): Promise<MainModule> {
  modulePromise ??= loadMujoco().then((module) => {
    module.FS.mkdir('/scenes');
    return module;
  });
  return modulePromise;
}

/** Compiles an MJCF document; a compile error (a bug in the scene text) is thrown with MuJoCo's message. */
export async function compileModel(xml: string): Promise<{ mujoco: MainModule; model: MjModel }> {
  const mujoco = await mujocoModule();
  const file = `/scenes/scene_${fileCounter++}.xml`;
  mujoco.FS.writeFile(file, xml);
  try {
    const model = mujoco.MjModel.loadFromXML(file);
    if (!model) throw new Error('MuJoCo could not compile the scene');
    return { mujoco, model };
  } finally {
    mujoco.FS.unlink(file);
  }
}
