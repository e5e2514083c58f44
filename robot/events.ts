/**
 * The event stream of a run: every safety intervention (clip, refuse, hold, e-stop) and every
 * operator or run transition becomes one typed event, which the dashboard and MQTT show.
 */
import type { Clock } from '../common/clock.js';

export type EventKind =
  // safety layer
  | 'clipped' // an action was limited to the workspace box or the step caps
  | 'refused' // an action was refused (onViolation: refuse) and the arm held
  | 'non-finite' // an action with NaN or infinity was refused
  | 'hold' // a watchdog holds the arm (stale frames, reward model silent, actor silent)
  | 'release' // a watchdog hold ended
  | 'joint-limit' // the arm reported a joint outside its limits or moving too fast (latches the e-stop)
  | 'estop' // the e-stop latched (dashboard, MQTT, signal, fault)
  | 'estop-reset' // the operator released the e-stop
  | 'fault' // something failed while stopping or acting
  // run and operator
  | 'run' // start, pause, resume, stop
  | 'episode' // an episode began or ended
  | 'mark' // the operator marked an episode a success or a failure
  | 'intervention' // the operator took over the arm, or handed it back to the policy
  | 'reward-error' // the progress source failed on one observation
  // links and stored state
  | 'link' // the MQTT broker link (and with it the remote e-stop) went down or came back, or the run started without it
  | 'checkpoint'; // a stored learner checkpoint was rejected at start (corrupt or incompatible)

export interface RunEvent {
  /** Milliseconds since the epoch (the run's clock). */
  time: number;
  kind: EventKind;
  /** Human-readable detail: what happened and why. */
  detail: string;
  /** Who caused it: safety, dashboard, mqtt, signal, loop. */
  source: string;
}

export type EventListener = (event: RunEvent) => void;

export class EventStream {
  private readonly listeners = new Set<EventListener>();
  private readonly kept: RunEvent[] = [];

  constructor(
    private readonly clock: Clock,
    /** How many recent events `recent()` keeps for newly connected viewers. */
    private readonly keep = 200,
  ) {}

  emit(kind: EventKind, detail: string, source: string): RunEvent {
    const event: RunEvent = { time: this.clock.now(), kind, detail, source };
    this.kept.push(event);
    if (this.kept.length > this.keep) this.kept.splice(0, this.kept.length - this.keep);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A failing viewer must not break the safety layer that emitted the event.
      }
    }
    return event;
  }

  /** Returns the function that unsubscribes. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  recent(): RunEvent[] {
    return [...this.kept];
  }
}
