/** Actor names: several actors feed one learner, which keeps each actor's episodes under its name. */
import { hostname } from 'node:os';
import { basename, resolve } from 'node:path';

/** What an actor may be called (it travels as gRPC metadata and names episodes in the learner's log). */
export const ACTOR_NAME = /^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$/;

/** The default: this machine and the run folder's name, so two arms or two folders never share one. */
export function defaultActorName(runDir: string): string {
  const name = `${hostname()}-${basename(resolve(runDir))}`.replace(/[^A-Za-z0-9_.:@-]/g, '_').replace(/^[^A-Za-z0-9]+/, '');
  return (name || 'actor').slice(0, 128);
}
