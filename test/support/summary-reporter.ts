import Mocha from 'mocha';

const { EVENT_RUN_END } = Mocha.Runner.constants;

/**
 * Mocha's spec reporter, plus one closing line in the plain form CI reads:
 * `N passed, N failed, N skipped`.
 */
class SummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(EVENT_RUN_END, () => {
      const stats = runner.stats;
      if (!stats) return;
      process.stdout.write(`\n${stats.passes} passed, ${stats.failures} failed, ${stats.pending} skipped\n`);
    });
  }
}

// Mocha loads reporters with require(); this name makes require() of this ES module return the class.
export { SummaryReporter as 'module.exports' };
