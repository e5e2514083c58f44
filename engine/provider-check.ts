/**
 * What each onnxruntime execution provider can do on this machine, and why not where it cannot:
 * `dopamine doctor`'s answer before a lab spends an hour finding out. Whether a provider starts
 * is asked of resolveExecutionProvider (engine/runtime.ts), so the answer is the one a run gets;
 * this module adds what that call cannot say: the NVIDIA driver and CUDA 12 / cuDNN 9 libraries
 * the loader can find, and the Vulkan drivers WebGPU could reach a GPU through.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { createLogger } from '../common/log.js';
import { isInputError } from '../common/errors.js';
import { resolveExecutionProvider, type ExecutionProvider, type ExecutionProviderSetting } from './runtime.js';

export interface ProviderStatus {
  provider: ExecutionProvider;
  available: boolean;
  /** What it runs on, or why it cannot start here. */
  detail: string;
}

/**
 * The shared libraries onnxruntime-node's CUDA 12 provider loads: the driver's libcuda, the CUDA 12
 * runtime, cuBLAS, cuFFT and cuRAND, and cuDNN 9 (the sonames of the CUDA 12 builds).
 */
export const CUDA_LIBRARIES = ['libcuda.so.1', 'libcudart.so.12', 'libcublas.so.12', 'libcublasLt.so.12', 'libcufft.so.11', 'libcurand.so.10', 'libcudnn.so.9'] as const;

/** What `npm ci` skips (.npmrc) and a GPU machine installs; the flag must override .npmrc's `skip`. */
export const CUDA_INSTALL_COMMAND = 'npm rebuild onnxruntime-node --onnxruntime-node-install=cuda12 --foreground-scripts';

/** Folders the Vulkan loader reads driver manifests (ICDs) from. */
const VULKAN_ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** `ldconfig -p` as soname -> path (the first, 64-bit entry wins). */
export function parseLdconfig(text: string, arch: string = process.arch): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\s*(\S+)\s+\(([^)]*)\)\s+=>\s+(\S+)\s*$/.exec(line);
    if (!match) continue;
    const [, name, flags, path] = match as unknown as [string, string, string, string];
    if (arch === 'x64' && !flags.includes('x86-64')) continue;
    if (!found.has(name)) found.set(name, path);
  }
  return found;
}

/** The driver version from /proc/driver/nvidia/version's text, or null when it names none. */
export function parseNvidiaDriver(text: string): string | null {
  return /Kernel Module\s+(?:for\s+\S+\s+)?([0-9][0-9.]+)/.exec(text)?.[1] ?? null;
}

export interface CudaEnvironment {
  /** NVIDIA kernel driver version, null when there is none. */
  driver: string | null;
  /** Each of CUDA_LIBRARIES: where the loader finds it, or null. */
  libraries: Map<string, string | null>;
  /** Sonames of the same libraries in another major version (libcudart.so.13): CUDA installed, but not 12. */
  otherVersions: string[];
}

/** Where the dynamic loader would find CUDA_LIBRARIES: LD_LIBRARY_PATH first, then ld.so's cache. */
export function findCudaLibraries(ldconfig: Map<string, string>, searchPath: readonly string[], exists: (file: string) => boolean = existsSync): Omit<CudaEnvironment, 'driver'> {
  const libraries = new Map<string, string | null>();
  for (const name of CUDA_LIBRARIES) {
    const inPath = searchPath.map((dir) => join(dir, name)).find((file) => exists(file));
    libraries.set(name, inPath ?? ldconfig.get(name) ?? null);
  }
  const stems = CUDA_LIBRARIES.map((name) => name.replace(/\.so\.\d+$/, '.so.'));
  const otherVersions = [...ldconfig.keys()].filter((name) => stems.some((stem) => name.startsWith(stem)) && !(CUDA_LIBRARIES as readonly string[]).includes(name)).sort();
  return { libraries, otherVersions };
}

function readLdconfig(): Map<string, string> {
  // Not on a non-root user's PATH on Debian: try the usual places.
  for (const program of ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    try {
      return parseLdconfig(execFileSync(program, ['-p'], { encoding: 'utf8', timeout: 3000, stdio: ['ignore', 'pipe', 'ignore'] }));
    } catch {
      // next candidate
    }
  }
  return new Map();
}

/** This machine's NVIDIA driver and CUDA libraries (Linux; elsewhere the provider's own error says it all). */
export function cudaEnvironment(): CudaEnvironment | null {
  if (process.platform !== 'linux') return null;
  let driver: string | null = null;
  try {
    driver = parseNvidiaDriver(readFileSync('/proc/driver/nvidia/version', 'utf8'));
  } catch {
    driver = null;
  }
  const searchPath = (process.env.LD_LIBRARY_PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  return { driver, ...findCudaLibraries(readLdconfig(), searchPath) };
}

/** One line: the driver and the CUDA 12 / cuDNN 9 libraries missing, with other versions found. */
export function describeCudaEnvironment(env: CudaEnvironment): string {
  const missing = [...env.libraries].filter(([, path]) => path === null).map(([name]) => name);
  const driver = env.driver === null ? 'no NVIDIA driver (/proc/driver/nvidia/version absent; in a container: docker run --gpus all)' : `NVIDIA driver ${env.driver}`;
  const libraries =
    missing.length === 0
      ? 'CUDA 12 and cuDNN 9 libraries found'
      : `missing ${missing.join(', ')}${env.otherVersions.length > 0 ? ` (found ${env.otherVersions.join(', ')}: another CUDA major version)` : ''}`;
  return `${driver}; ${libraries}`;
}

/** Vulkan driver manifests installed here (nvidia_icd.json, lvp_icd.x86_64.json, ...). */
export function vulkanDrivers(dirs: readonly string[] = VULKAN_ICD_DIRS): string[] {
  const names: string[] = [];
  for (const dir of dirs) {
    try {
      names.push(...readdirSync(dir).filter((name) => name.endsWith('.json')));
    } catch {
      // no such folder
    }
  }
  return [...new Set(names)].sort();
}

/** The reason inside resolveExecutionProvider's "... got none (<reason>); see docs/gpu.md". */
export function providerReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return /got none \((.*)\); see /.exec(message)?.[1] ?? (isInputError(error) ? message.slice(error.input.length + 2) : message);
}

const quiet = createLogger('doctor', 'silent');

/** CPU, CUDA and WebGPU on this machine, each started once with a one-node model. */
export async function providerStatuses(): Promise<ProviderStatus[]> {
  // The CPU provider ships inside onnxruntime-node: nothing to probe.
  const statuses: ProviderStatus[] = [{ provider: 'cpu', available: true, detail: 'available (bundled with onnxruntime-node)' }];
  const cuda = cudaEnvironment();
  try {
    await resolveExecutionProvider('cuda', quiet);
    // Started: the libraries were found, wherever the loader found them; the driver is what is left to say.
    statuses.push({ provider: 'cuda', available: true, detail: `available${cuda?.driver ? ` (NVIDIA driver ${cuda.driver})` : ''}` });
  } catch (error) {
    const reason = providerReason(error);
    const install = /not installed/i.test(reason) ? ` (${CUDA_INSTALL_COMMAND})` : '';
    statuses.push({ provider: 'cuda', available: false, detail: `not available: ${reason}${install}${cuda ? `; ${describeCudaEnvironment(cuda)}` : ''}` });
  }
  const drivers = process.platform === 'linux' ? vulkanDrivers() : [];
  const vulkan = process.platform !== 'linux' ? '' : drivers.length > 0 ? `; Vulkan drivers: ${drivers.join(', ')}` : '; no Vulkan driver installed';
  try {
    await resolveExecutionProvider('webgpu', quiet);
    statuses.push({ provider: 'webgpu', available: true, detail: `adapter found${vulkan}` });
  } catch (error) {
    statuses.push({ provider: 'webgpu', available: false, detail: `no adapter: ${providerReason(error)}${vulkan}` });
  }
  return statuses;
}

/** The provider `setting` resolves to here, or why it cannot (auto never fails: it falls back to the CPU). */
export async function chosenProvider(setting: ExecutionProviderSetting): Promise<{ provider: ExecutionProvider | null; detail: string }> {
  try {
    const provider = await resolveExecutionProvider(setting, quiet);
    const why = setting === 'auto' ? (provider === 'cuda' ? ' (CUDA starts here)' : ' (CUDA does not start here; WebGPU only when named)') : '';
    return { provider, detail: `${setting} runs on ${provider}${why}` };
  } catch (error) {
    return { provider: null, detail: isInputError(error) ? error.message.slice(error.input.length + 2) : String(error) };
  }
}
