// Shared by the Node tests (tests/web, tests/infra), as tests/e2e/harness.py
// is by the Python ones: check() counts and reports, finish() prints the
// counts and exits non-zero if anything failed.
export const counts = { passed: 0, failed: 0 };

export function check(name, ok, detail) {
  if (ok) {
    counts.passed++;
    return;
  }
  counts.failed++;
  const d = detail === undefined ? "" : ": " + (typeof detail === "string" ?
    detail : JSON.stringify(detail));
  console.log(`FAIL ${name}${d}`);
}

export function finish(also = "") {
  console.log(`${counts.passed} passed, ${counts.failed} failed${also}`);
  process.exit(counts.failed === 0 ? 0 : 1);
}
