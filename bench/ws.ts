import WebSocket from 'ws';

/**
 * Subscribers speaking the graphql-ws protocol (`graphql-transport-ws`) directly over `ws`: one
 * socket, one subscription each, and a timestamp per `next` message. Kept to the bare protocol so
 * that ten thousand of them cost the load generator as little CPU as possible.
 */

export interface RawSubscriber {
  socket: WebSocket;
  /** Called with the receive time and the raw `next` message. */
  onNext: ((at: number, raw: Buffer) => void) | null;
  errors: string[];
  close(): void;
}

export function openSubscriber(
  url: string,
  query: string,
  variables: Record<string, unknown>,
  timeoutMs = 30_000,
): Promise<RawSubscriber> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'graphql-transport-ws', { perMessageDeflate: false });
    const sub: RawSubscriber = {
      socket,
      onNext: null,
      errors: [],
      close: () => {
        if (socket.readyState === WebSocket.OPEN) socket.close(1000);
        else socket.terminate();
      },
    };
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error('subscriber: no connection_ack in time'));
    }, timeoutMs);
    socket.on('open', () => socket.send('{"type":"connection_init"}'));
    socket.on('error', (e) => {
      clearTimeout(timer);
      sub.errors.push(e.message);
      reject(e);
    });
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      const at = performance.now();
      if (isBinary) return;
      // `next` is by far the most frequent message: recognise it without parsing.
      if (data.includes('"type":"next"')) {
        sub.onNext?.(at, data);
        return;
      }
      let msg: { type?: string; payload?: unknown };
      try {
        msg = JSON.parse(data.toString('utf8')) as { type?: string; payload?: unknown };
      } catch {
        return;
      }
      if (msg.type === 'connection_ack') {
        socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query, variables } }));
        clearTimeout(timer);
        resolve(sub);
      } else if (msg.type === 'ping') socket.send('{"type":"pong"}');
      else if (msg.type === 'error') sub.errors.push(JSON.stringify(msg.payload).slice(0, 300));
    });
  });
}

/** Opens `n` subscribers, `parallel` handshakes at a time. */
export async function openSubscribers(
  url: string,
  n: number,
  query: string,
  variables: Record<string, unknown>,
  parallel = 200,
): Promise<RawSubscriber[]> {
  const subs: RawSubscriber[] = [];
  let next = 0;
  async function lane(): Promise<void> {
    while (next < n) {
      next++;
      subs.push(await openSubscriber(url, query, variables));
    }
  }
  try {
    await Promise.all(Array.from({ length: Math.min(parallel, n) }, lane));
  } catch (e) {
    for (const s of subs) s.close();
    throw e;
  }
  return subs;
}

export function closeAll(subs: readonly RawSubscriber[]): void {
  for (const s of subs) s.close();
}
