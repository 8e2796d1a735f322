import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import { loadBuiltNative } from '../../src/exec/netlink/native.js';
import { listeningTcpPortsIn } from '../../src/observe/listening.js';
import { listeningTcpPorts } from '../../src/observe/procs.js';
import { needsRoot } from '../helpers/cli.js';

/**
 * The lab's readiness read (sock_diag in a namespace, src/observe/listening.ts) must list exactly what
 * /proc/PID/net/tcp and tcp6 list as listening there: an IPv4-only and a dual-stack listener in a throwaway
 * namespace, and nothing of the host's.
 */
const native = loadBuiltNative();
const NS = `lst${process.pid.toString(36)}`;

describe(
  'listening ports over sock_diag',
  { skip: needsRoot || (!native?.diagSocket && 'no compiled addon') },
  () => {
    const pids: number[] = [];
    after(() => {
      for (const p of pids) {
        try {
          process.kill(p, 'SIGKILL');
        } catch {}
      }
      execFileSync('ip', ['netns', 'del', NS], { stdio: 'ignore' });
    });

    test('the same ports as /proc/PID/net/tcp{,6}, in that namespace only', async () => {
      execFileSync('ip', ['netns', 'add', NS]);
      execFileSync('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
      const listen = (addr: string, port: number) => {
        const code = `import socket,time,sys\ns=socket.socket(socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET)\ns.bind((sys.argv[1],int(sys.argv[2])))\ns.listen()\ntime.sleep(60)`;
        const c = spawn('ip', ['netns', 'exec', NS, 'python3', '-c', code, addr, String(port)], {
          stdio: 'ignore',
        });
        pids.push(c.pid!);
        return c.pid!;
      };
      const a = listen('127.0.0.1', 8123);
      listen('::', 8124);
      const path = `/run/netns/${NS}`;
      const deadline = Date.now() + 5000;
      let ports = new Set<number>();
      while (Date.now() < deadline) {
        ports = listeningTcpPortsIn(native!, path);
        if (ports.has(8123) && ports.has(8124)) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual([...ports].sort(), [8123, 8124]);
      // /proc/PID/net of a process in the namespace (ip netns exec has exec'd python by now) says the same.
      assert.deepEqual([...listeningTcpPorts(a)].sort(), [8123, 8124]);
      // With `want` met by the first family (IPv6), the IPv4 listener is not asked for.
      assert.deepEqual([...listeningTcpPortsIn(native!, path, [8124])], [8124]);
    });
  },
);
