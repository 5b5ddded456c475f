// A WebSocket client for tests of /ws: every message kept in order; `next` answers the first
// message received that matches, waiting for one (up to 5 s) when none has come yet.
import WebSocket from 'ws';

export interface Client {
  socket: WebSocket;
  messages: any[];
  send(message: object): void;
  next(match: (m: any) => boolean, what?: string): Promise<any>;
  close(): void;
}

export async function connect(baseUrl: string): Promise<Client> {
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}/ws`);
  const messages: any[] = [];
  const waiters: Array<{ match: (m: any) => boolean; resolve: (m: any) => void }> = [];
  let seen = 0;
  socket.on('message', (data) => {
    const message = JSON.parse(String(data));
    messages.push(message);
    for (const w of [...waiters]) {
      if (w.match(message)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(message);
      }
    }
  });
  await new Promise((resolve, reject) => {
    socket.once('open', resolve);
    socket.once('error', reject);
  });
  return {
    socket,
    messages,
    send: (message) => socket.send(JSON.stringify(message)),
    next(match, what = 'a message') {
      const already = messages.slice(seen).find(match);
      if (already) return Promise.resolve(already);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(messages.slice(-5))}`)), 5_000);
        waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
      });
    },
    close: () => socket.close(),
  };
}

