#!/usr/bin/env bash
# Runs every test project in Chain.sln and ends with one line totalled over all of them:
#   N passed, N failed[, N skipped]
# Exits non-zero if the build fails, any test fails, or a test host crashes.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

./scripts/setup.sh || { echo "setup failed"; echo "0 passed, 1 failed"; exit 1; }

results="$(mktemp -d)"
trap 'rm -rf "$results"' EXIT

if ! dotnet build Chain.sln -nologo -v quiet; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

# One test project at a time (-m:1): the cluster tests start real 4-node clusters with real deadlines, and on a
# 2-core machine another project's CPU-bound tests running beside them turn those deadlines into flakes.
dotnet test Chain.sln --no-build -nologo -v quiet -m:1 --logger "trx" --results-directory "$results" "$@"
status=$?

# Before the reports are deleted: every failed test's name, message, and the tail of its output.
for f in "$results"/*.trx; do
  [ -e "$f" ] || continue
  perl -0777 -ne '
    while (/<UnitTestResult\b([^>]*?)outcome="(Failed|Error|Timeout|Aborted)"([^>]*)>(.*?)<\/UnitTestResult>/gs) {
      my ($attrs, $body) = ("$1 $3", $4);
      my ($name) = $attrs =~ /testName="([^"]*)"/;
      my ($msg) = $body =~ /<Message>(.*?)<\/Message>/s;
      my ($stack) = $body =~ /<StackTrace>(.*?)<\/StackTrace>/s;
      my ($out) = $body =~ /<StdOut>(.*?)<\/StdOut>/s;
      for ($name, $msg, $stack, $out) { next unless defined; s/&lt;/</g; s/&gt;/>/g; s/&quot;/"/g; s/&apos;/\x27/g; s/&#xD;//g; s/&#xA;/\n/g; s/&amp;/&/g; }
      my @out = defined $out ? split /\n/, $out : ();
      @out = @out[-40 .. -1] if @out > 40;
      my @stack = defined $stack ? (split /\n/, $stack)[0 .. 9] : ();
      print "\n=== FAILED: $name\n", ($msg // "(no message)"), "\n";
      print "--- stack:\n", join("\n", grep { defined } @stack), "\n" if @stack;
      print "--- last lines of its output:\n", join("\n", @out), "\n" if @out;
    }' "$f"
done

passed=0; failed=0; skipped=0; files=0
for f in "$results"/*.trx; do
  [ -e "$f" ] || continue
  files=$((files + 1))
  counters=$(grep -o '<Counters [^>]*>' "$f" | head -n 1)
  get() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' || echo 0; }
  passed=$((passed + $(get passed)))
  failed=$((failed + $(get failed) + $(get error) + $(get timeout) + $(get aborted)))
  # xunit skips are not in notExecuted: they are the tests counted in total but never executed.
  skipped=$((skipped + $(get total) - $(get executed)))
done

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  echo "dotnet test exited with $status without a failed test in its reports (a test host crashed?)"
  failed=1
fi
if [ "$files" -eq 0 ]; then
  echo "no test results were written"
  failed=$((failed + 1))
fi

if [ "$skipped" -gt 0 ]; then
  echo "$passed passed, $failed failed, $skipped skipped"
else
  echo "$passed passed, $failed failed"
fi
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
