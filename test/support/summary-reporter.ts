// Ends the run with one plain line, "N passed, N failed, N skipped", that any CI can read.
import type { Reporter } from 'vitest/reporters';

interface TaskLike {
  type: string;
  mode?: string;
  result?: { state?: string };
  tasks?: TaskLike[];
}

export default class SummaryReporter implements Reporter {
  onFinished(files: TaskLike[] = []): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const walk = (task: TaskLike) => {
      if (task.tasks) task.tasks.forEach(walk);
      if (task.type !== 'test') return;
      const state = task.result?.state;
      if (state === 'pass') counts.passed += 1;
      else if (state === 'fail') counts.failed += 1;
      else counts.skipped += 1;
    };
    files.forEach(walk);
    // A file that failed to load has no tests but did fail.
    counts.failed += files.filter((f) => f.result?.state === 'fail' && !f.tasks?.length).length;
    process.stdout.write(`\n${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
