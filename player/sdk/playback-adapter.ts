// What the SDK needs from a player, and the adapter for an HTML <video> or <audio> element. Any other player (a
// YouTube iframe, a native app bridge) is supported by writing the same small adapter for it.

/** A change that closes a billing interval: the SDK sends a heartbeat at each (docs/liveness-and-billing.md). */
export type PlaybackChange = 'play' | 'pause' | 'seeking' | 'seeked' | 'ended' | 'waiting' | 'playing';

export interface PlaybackReading {
  positionSeconds: number;
  /** Content is advancing now: not paused, not ended, not seeking, not stalled for data. */
  playing: boolean;
  ended: boolean;
}

export interface PlaybackListener {
  /** The playing state may have changed: the SDK closes the interval with a heartbeat. */
  onChange(change: PlaybackChange): void;
  /** The position moved while playing (timeupdate): the SDK only refreshes what it shows. */
  onProgress(): void;
}

export interface PlaybackAdapter {
  read(): PlaybackReading;
  /** Starts listening; returns the function that stops. */
  subscribe(listener: PlaybackListener): () => void;
}

/** The part of HTMLMediaElement the adapter uses (typed here so the SDK compiles without the DOM library). */
export interface MediaElementLike {
  currentTime: number;
  paused: boolean;
  ended: boolean;
  seeking: boolean;
  /** HTMLMediaElement.readyState: below 3 (HAVE_FUTURE_DATA) playback is stalled waiting for data. */
  readyState: number;
  addEventListener(type: string, listener: () => void): void;
  removeEventListener(type: string, listener: () => void): void;
}

const haveFutureData = 3;
const changeEvents: readonly PlaybackChange[] = ['play', 'pause', 'seeking', 'seeked', 'ended', 'waiting', 'playing'];

export function mediaElementAdapter(media: MediaElementLike): PlaybackAdapter {
  return {
    read() {
      // A stalled or seeking video shows nothing new: not billed, in the student's favour.
      const playing = !media.paused && !media.ended && !media.seeking && media.readyState >= haveFutureData;
      return { positionSeconds: Number.isFinite(media.currentTime) ? media.currentTime : 0, playing, ended: media.ended };
    },
    subscribe(listener) {
      const handlers = changeEvents.map((type) => [type, () => listener.onChange(type)] as const);
      const onTime = () => listener.onProgress();
      for (const [type, fn] of handlers) media.addEventListener(type, fn);
      media.addEventListener('timeupdate', onTime);
      return () => {
        for (const [type, fn] of handlers) media.removeEventListener(type, fn);
        media.removeEventListener('timeupdate', onTime);
      };
    },
  };
}
