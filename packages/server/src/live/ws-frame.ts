/**
 * Fan-out sends one message to many sockets. `ws` frames every send anew and writes header
 * and payload as two corked writes (a writev per socket); here the frame is built once per
 * message and written to each socket in one write. Used only when the socket's `ws` sender
 * is idle and uncompressed (checked on each send); otherwise the message goes through
 * `ws.send` as usual, so ordering and accounting stay `ws`'s own.
 */
import type { WebSocket } from 'ws';

/** A text message with its ready-made server frame (unmasked, FIN, opcode text). */
export interface PreparedMessage {
  readonly payload: Buffer;
  readonly frame: Buffer;
}

/** Build the WebSocket frame of a text payload once. */
export function prepareMessage(payload: Buffer): PreparedMessage {
  const n = payload.length;
  let header: Buffer;
  if (n < 126) header = Buffer.from([0x81, n]);
  else if (n < 65_536) header = Buffer.from([0x81, 126, n >>> 8, n & 0xff]);
  else {
    header = Buffer.alloc(10);
    header[0] = 0x81;
    header[1] = 127;
    header.writeBigUInt64BE(BigInt(n), 2);
  }
  return { payload, frame: Buffer.concat([header, payload]) };
}

/** The parts of a `ws` WebSocket (v8) this fast path relies on; each is checked before use. */
interface WsInternals {
  _socket?: { write(chunk: Buffer): boolean; writable?: boolean };
  _sender?: { _state?: unknown; _queue?: unknown[]; _firstFragment?: unknown };
  _extensions?: Record<string, unknown>;
}

const TEXT_FRAME = { binary: false } as const;

/** Send a prepared message: one raw write when `ws` is idle, else through `ws.send`. */
export function sendPrepared(ws: WebSocket, message: PreparedMessage): void {
  const w = ws as unknown as WsInternals;
  const sender = w._sender;
  if (
    w._socket?.writable === true &&
    sender !== undefined &&
    sender._state === 0 &&
    Array.isArray(sender._queue) &&
    sender._queue.length === 0 &&
    sender._firstFragment === true &&
    w._extensions !== undefined &&
    Object.keys(w._extensions).length === 0
  ) {
    w._socket.write(message.frame);
    return;
  }
  ws.send(message.payload, TEXT_FRAME);
}
