// The desk's two sounds, made with the Web Audio API (no audio files): a bright rising
// two-tone for "yes" and a low buzz for "no". Silent where audio is unavailable.

import type { Cue } from "./state/result";

type AudioContextCtor = new () => AudioContext;

let ctx: AudioContext | null = null;
let unavailable = false;

function context(): AudioContext | null {
  if (ctx || unavailable) return ctx;
  try {
    const w = window as unknown as { AudioContext?: AudioContextCtor; webkitAudioContext?: AudioContextCtor };
    const Ctor = w.AudioContext ?? w.webkitAudioContext;
    if (!Ctor) {
      unavailable = true;
      return null;
    }
    ctx = new Ctor();
  } catch {
    unavailable = true;
  }
  return ctx;
}

function tone(ac: AudioContext, type: OscillatorType, freq: number, start: number, length: number, volume: number): void {
  const osc = ac.createOscillator();
  const gain = ac.createGain();
  osc.type = type;
  osc.frequency.setValueAtTime(freq, start);
  gain.gain.setValueAtTime(0.0001, start);
  gain.gain.exponentialRampToValueAtTime(volume, start + 0.015);
  gain.gain.setValueAtTime(volume, start + length - 0.03);
  gain.gain.exponentialRampToValueAtTime(0.0001, start + length);
  osc.connect(gain).connect(ac.destination);
  osc.start(start);
  osc.stop(start + length + 0.02);
}

export function play(cue: Cue): void {
  if (!cue) return;
  try {
    const ac = context();
    if (!ac) return;
    if (ac.state === "suspended") void ac.resume().catch(() => undefined);
    const t = ac.currentTime + 0.01;
    if (cue === "yes") {
      tone(ac, "sine", 880, t, 0.11, 0.25);
      tone(ac, "sine", 1320, t + 0.12, 0.16, 0.25);
    } else {
      tone(ac, "square", 150, t, 0.45, 0.12);
      tone(ac, "sawtooth", 110, t, 0.45, 0.08);
    }
  } catch {
    // Sound is a help, never a requirement: a failure here must not disturb a scan.
  }
}
