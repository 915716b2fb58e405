/**
 * A scripted Sentinel for timing tests that real sentinels cannot stage on demand: it names a
 * master (a TCP proxy in front of the test Redis, whose connections the test can cut), can hold
 * its answers to "where is the master?" while the test acts, and publishes `+switch-master` to
 * the clients subscribed to it. It speaks only the RESP commands ioredis sends a sentinel.
 */
import net from 'node:net';

type Reply = string | number | null | Reply[];

function encode(value: Reply): string {
  if (value === null) return '*-1\r\n';
  if (Array.isArray(value)) return `*${value.length}\r\n${value.map(encode).join('')}`;
  if (typeof value === 'number') return `:${value}\r\n`;
  return `$${Buffer.byteLength(value)}\r\n${value}\r\n`;
}

/** Complete commands at the start of `buf` (RESP arrays of bulk strings), and what is left. */
function parseCommands(buf: Buffer): { commands: string[][]; rest: Buffer } {
  const commands: string[][] = [];
  let at = 0;
  parsing: while (buf[at] === 0x2a /* '*' */) {
    let end = buf.indexOf('\r\n', at);
    if (end < 0) break;
    const count = Number(buf.subarray(at + 1, end));
    let cursor = end + 2;
    const args: string[] = [];
    for (let i = 0; i < count; i++) {
      end = buf.indexOf('\r\n', cursor);
      if (end < 0) break parsing;
      const length = Number(buf.subarray(cursor + 1, end));
      if (buf.length < end + 2 + length + 2) break parsing;
      args.push(buf.subarray(end + 2, end + 2 + length).toString());
      cursor = end + 2 + length + 2;
    }
    commands.push(args);
    at = cursor;
  }
  return { commands, rest: buf.subarray(at) };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** Forwards to `target`; `cut()` drops every connection, as a dying master would. */
export class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((client) => {
    const upstream = net.connect(this.target.port, this.target.host);
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  cut(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

export class FakeSentinel {
  /** Connections subscribed to `+switch-master` (the store's failover followers). */
  readonly subscribers = new Set<net.Socket>();
  /** Answers to `SENTINEL get-master-addr-by-name` held back while `holding`. */
  readonly held: (() => void)[] = [];
  holding = false;
  private readonly sockets = new Set<net.Socket>();
  private readonly server = net.createServer((socket) => this.serve(socket));
  port = 0;

  constructor(
    readonly name: string,
    private readonly master: { host: string; port: number },
  ) {}

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  private serve(socket: net.Socket): void {
    this.sockets.add(socket);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.sockets.delete(socket);
      this.subscribers.delete(socket);
    });
    socket.on('data', (chunk: Buffer) => {
      const { commands, rest } = parseCommands(Buffer.concat([pending, chunk]));
      pending = rest;
      for (const args of commands) this.answer(socket, args);
    });
  }

  private answer(socket: net.Socket, args: string[]): void {
    const [command = '', sub = ''] = args.map((a) => a.toLowerCase());
    if (command === 'sentinel' && sub === 'get-master-addr-by-name') {
      const reply = () => socket.write(encode([this.master.host, String(this.master.port)]));
      if (this.holding) this.held.push(reply);
      else reply();
    } else if (command === 'sentinel') {
      socket.write(encode([])); // SENTINEL sentinels: no peers to add
    } else if (command === 'subscribe') {
      this.subscribers.add(socket);
      socket.write(encode(['subscribe', args[1] ?? '', 1]));
    } else {
      socket.write('+OK\r\n');
    }
  }

  /**
   * Announces a failover of this group's master to `to` (by default the address it names
   * already: a late announcement of the failover clients have followed). Resolves once the
   * announcement is handed to the operating system for every subscriber.
   */
  switchMaster(to: { host: string; port: number } = this.master): Promise<void> {
    const { host, port } = this.master;
    const payload = `${this.name} ${host} ${port} ${to.host} ${to.port}`;
    const message = encode(['message', '+switch-master', payload]);
    return Promise.all(
      [...this.subscribers].map(
        (socket) => new Promise<void>((resolve) => socket.write(message, () => resolve())),
      ),
    ).then(() => undefined);
  }

  release(): void {
    this.holding = false;
    for (const reply of this.held.splice(0)) reply();
  }

  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
