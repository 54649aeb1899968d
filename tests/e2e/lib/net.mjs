// Whether a loopback listener is open.
import { connect } from 'node:net';

/** Whether something accepts connections on 127.0.0.1:port. */
export const listening = (port) =>
  new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** Whether the port stops accepting connections within `ms`. */
export async function closedWithin(port, ms) {
  const deadline = Date.now() + ms;
  while (await listening(port)) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
  return true;
}
