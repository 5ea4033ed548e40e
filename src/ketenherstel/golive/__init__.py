"""The phased go-live: plans, agreed priorities and the what-if forecast of the backlogs.

A plan (:mod:`~ketenherstel.golive.plan`, a YAML file) records who was isolated, the priority
decisions the ministry and the chain partners agreed, and the waves that open channels again
with their rates; it is checked against the chain model, the dependency rule included.
:mod:`~ketenherstel.golive.priority` ranks every message type (agreed first, then legal deadlines,
then procedure order) and :mod:`~ketenherstel.golive.forecast` simulates a plan against a backlog
and an inflow. The domain modules import only the standard library, PyYAML and the chain
package; ``cli`` (Typer, Rich) is the only entry point.

Exceptions::

    PlanError                  root of everything this package raises
    ├── PlanFileError          a plan file has problems (.problems lists every one); not loaded
    └── ForecastInputError     bad forecast input: backlog, inflow, rates or actual figures
"""

from ketenherstel.golive.channels import ChannelRule, Flow, parse_rate
from ketenherstel.golive.errors import ForecastInputError, PlanError, PlanFileError, PlanProblem
from ketenherstel.golive.forecast import (
    ActualPoint,
    Backlog,
    ChannelForecast,
    Comparison,
    DayPoint,
    ForecastResult,
    Inflow,
    Missed,
    compare,
    forecast,
)
from ketenherstel.golive.model import (
    ChannelOpening,
    Isolation,
    Plan,
    PlanState,
    PriorityDecision,
    Wave,
)
from ketenherstel.golive.plan import BUILTIN_PLANS, builtin_plan_path, check_plan_file, load_plan
from ketenherstel.golive.priority import Rank, explain, priorities, ranking

__all__ = [
    "BUILTIN_PLANS",
    "ActualPoint",
    "Backlog",
    "ChannelForecast",
    "ChannelOpening",
    "ChannelRule",
    "Comparison",
    "DayPoint",
    "Flow",
    "ForecastInputError",
    "ForecastResult",
    "Inflow",
    "Isolation",
    "Missed",
    "Plan",
    "PlanError",
    "PlanFileError",
    "PlanProblem",
    "PlanState",
    "PriorityDecision",
    "Rank",
    "Wave",
    "builtin_plan_path",
    "check_plan_file",
    "compare",
    "explain",
    "forecast",
    "load_plan",
    "parse_rate",
    "priorities",
    "ranking",
]
