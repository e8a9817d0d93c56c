import { TurnBatchedDestination } from '../../src/server/log-destination';
import { createLogger } from '../../src/server/logging';

function recordingSink(): { writes: string[]; write(data: string): void } {
  const writes: string[] = [];
  return { writes, write: (data: string) => void writes.push(data) };
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatchedDestination', () => {
  it('writes the lines of one event-loop turn as one write, in order, when the turn ends', async () => {
    const sink = recordingSink();
    const dest = new TurnBatchedDestination(sink);
    dest.write('a\n');
    dest.write('b\n');
    dest.write('c\n');
    expect(sink.writes).toEqual([]);
    await nextTurn();
    expect(sink.writes).toEqual(['a\nb\nc\n']);
    dest.write('d\n');
    await nextTurn();
    expect(sink.writes).toEqual(['a\nb\nc\n', 'd\n']);
  });

  it('writes at once when 64 KiB are pending, without waiting for the turn to end', () => {
    const sink = recordingSink();
    const dest = new TurnBatchedDestination(sink);
    const line = `${'x'.repeat(1023)}\n`;
    for (let i = 0; i < 64; i++) dest.write(line);
    expect(sink.writes).toHaveLength(1);
    expect(sink.writes[0]).toHaveLength(64 * 1024);
    dest.flush();
  });

  it('flush() writes what is pending now and calls back; nothing is written twice', async () => {
    const sink = recordingSink();
    const dest = new TurnBatchedDestination(sink);
    dest.write('last words\n');
    const done = jest.fn();
    dest.flush(done);
    expect(sink.writes).toEqual(['last words\n']);
    expect(done).toHaveBeenCalledTimes(1);
    await nextTurn();
    expect(sink.writes).toEqual(['last words\n']);
  });

  it('works as a pino destination: every line arrives, whole and in order', async () => {
    const sink = recordingSink();
    const dest = new TurnBatchedDestination(sink);
    const logger = createLogger('info', dest);
    for (let i = 0; i < 500; i++) logger.info({ i }, 'line');
    await nextTurn();
    const lines = sink.writes.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { i: number });
    expect(lines.map((l) => l.i)).toEqual([...Array(500).keys()]);
  });
});
