/**
 * Loads MuJoCo (mujoco-js, WebAssembly) once per process and compiles MJCF text into a model.
 * The module's virtual file system is the only way in for XML, so each model is written to a
 * fresh file there and removed after loading.
 */
import type { MainModule, MjModel } from 'mujoco-js';

let modulePromise: Promise<MainModule> | undefined;
let fileCounter = 0;

export function mujocoModule(): Promise<MainModule> {
  // Imported on first use: loading the wasm package costs about a second, which every other
  // `dopamine` command (and each CLI test) would otherwise pay at start-up.
  modulePromise ??= import('mujoco-js')
    .then(({ default: loadMujoco }) => loadMujoco())
    .then((module) => {
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
