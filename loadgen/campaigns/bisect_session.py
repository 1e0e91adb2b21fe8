"""`loadgen bisect` as asked: the metric and the commits from GOOD to BAD read into a
bisection of one scenario, each step said in a line as it is decided."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from loadgen.analysis.compare import level_text, noise_text, verdict_text
from loadgen.campaigns.bisection import Outcome, Step, bisect
from loadgen.campaigns.history import folder
from loadgen.campaigns.options import BisectOptions
from loadgen.campaigns.points import points
from loadgen.campaigns.sweep import default_metrics, plan_sweep, verified
from loadgen.errors import LoadgenError
from loadgen.measure.runner import Placement
from loadgen.results.history import trials
from loadgen.results.metrics import metric
from loadgen.results.output import check_folder


def step_line(step: Step) -> str:
    """A decided step: the commit, its ratio to GOOD with the interval, and the verdict."""
    c = step.comparison
    # A count's interval is its rounds' range widened by what two counts may differ by: no
    # confidence level to speak of.
    kind = "counts" if c.metric.deterministic else level_text(c.level)
    ratio = (f"{c.ratio:.3f} [{c.low:.3f}, {c.high:.3f}] ({kind})"
             if c.ratio and c.low and c.high else "-")
    return (f"{step.point.label} {step.point.title}: {ratio} over {len(c.ratios)} rounds, "
            f"noise {noise_text(c)}, {verdict_text(c)}")


def run_bisect(options: BisectOptions, say: Callable[[str], None]) -> Outcome:
    """The search, said as it goes: its first line before anything is built, then each step."""
    chosen = metric(options.metric_name or default_metrics(options.server)[0], options.kind)
    if options.delta is not None:
        chosen = replace(chosen, delta=options.delta)
    found = points(options.repository, f"{options.good}..{options.bad}")
    plan = plan_sweep(options, options.repository, found)
    if len(plan.scenarios) != 1:
        raise LoadgenError("bisect judges one scenario: give one --scenario and one value "
                           "per --param")
    placement = Placement.apart()
    say(f"bisect {len(found) - 2} commits between {found[0].label} and {found[-1].label} on "
        f"{chosen.label} (δ {chosen.delta:.0%}); {placement.cores_text}")
    check_folder(options.results_dir, "--results")
    home = folder(options.repository, options.results_dir)
    outcome = bisect(plan, chosen, home, placement, options.max_rounds, None,
                     lambda step: say(step_line(step)))
    verified(options, trials(home))
    return outcome
