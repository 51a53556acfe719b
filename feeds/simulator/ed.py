"""A site's emergency department: arrivals, ambulance handovers, decisions to admit, departures.

Each attendance is planned whole at arrival. Arrivals follow a time-of-day profile (a late
morning peak, quiet small hours), ~150 a day for a 400-bed site, 30% by ambulance.

Healthy calibration (triggers in brackets): handover minutes lognormal with median 15 and 3% over
45 [median 30, 10% over 45]; non-admitted stays of 0.5-4.4 h, ~90% within 4 h [78%]; 30%
admitted, the decision 1-3.5 h after arrival and the departure 0.3-4.5 h after it, ~12% over
4 h [40%], none over 12 h from arrival [10%].

Healthy sites sit well clear of the emerging band (80% of a threshold): a smaller site's weekly
shares are noisier, and a healthy share of 5% over 45 min reached the 8% band by chance.

Scenarios: ``handover_delays`` (median handover ~35 min), ``ed_rota_mismatch`` (non-admitted
stays of 1-7.5 h: the rota misses the demand's peaks), ``exit_block`` (decided admissions wait
2-12 h for a bed).
"""

from __future__ import annotations

import math
import random
from typing import Any, Final

from feeds.simulator.common import at_hour, poisson
from feeds.simulator.ids import HOUR, at, event_id, hex_ref
from feeds.simulator.layout import Site
from feeds.simulator.queue import EventQueue
from feeds.simulator.scenarios import Conditions
from models.events import (
    AmbulanceHandover,
    DepartmentType,
    Disposition,
    EdArrival,
    EdDecisionToAdmit,
    EdDeparture,
)

SOURCE: Final = "ECDS"
ATTENDANCES_PER_400_BEDS: Final = 150.0
AMBULANCE_SHARE: Final = 0.3
ADMITTED_SHARE: Final = 0.3
#: relative arrivals by UK local hour of the day (ECDS shape: a late-morning peak, quiet nights;
#: people keep the wall clock, so the peak stays at local late morning through a clock change)
_HOURLY: Final = (
    0.45, 0.35, 0.3, 0.25, 0.25, 0.3, 0.45, 0.7, 1.0, 1.35, 1.5, 1.5,
    1.45, 1.4, 1.35, 1.3, 1.3, 1.3, 1.25, 1.2, 1.1, 0.95, 0.75, 0.6,
)  # fmt: skip
_HOURLY_MEAN: Final = sum(_HOURLY) / 24
HANDOVER_MEDIAN_MINUTES: Final = 15.0
HANDOVER_DELAY_MEDIAN_MINUTES: Final = 35.0
#: lognormal sigma putting 3% of healthy handovers over 45 min: ln(45 / 15) / z(0.97)
HANDOVER_SIGMA: Final = math.log(3) / 1.881
STAY_HOURS: Final = (0.5, 4.4)
SLOW_STAY_HOURS: Final = (1.0, 7.5)
DTA_WAIT_HOURS: Final = (0.3, 4.5)
BLOCKED_DTA_WAIT_HOURS: Final = (2.0, 12.0)


class Ed:
    def __init__(
        self,
        site: Site,
        conditions: Conditions,
        rng: random.Random,
        queue: EventQueue,
        start: int,
    ) -> None:
        self.site = site
        self.cond = conditions
        self.rng = rng
        self.queue = queue
        self.start = start
        self.per_day = ATTENDANCES_PER_400_BEDS * site.beds / 400

    def _env(self, t: int) -> dict[str, Any]:
        return {
            "event_id": event_id(self.rng),
            "schema_version": 1,
            "occurred_at": at(t),
            "trust_code": self.site.trust_code,
            "site_code": self.site.site_code,
            "source_system": SOURCE,
        }

    def day(self, day: int) -> None:
        rng = self.rng
        # UK local hour 0 of this UTC day (-1 in summer time): each UTC hour of the day takes
        # the profile of the local hour it is, so every arrival stays inside the day
        local_offset = (day - at_hour(day, 0)) // HOUR
        for hour in range(24):
            local = (hour + local_offset) % 24
            mean = self.per_day / 24 * _HOURLY[local] / _HOURLY_MEAN
            for _ in range(poisson(rng, mean)):
                self._attendance(day + hour * HOUR + rng.randrange(HOUR))

    def _attendance(self, arrived: int) -> None:
        rng, cond, queue = self.rng, self.cond, self.queue
        ref = hex_ref(rng)
        by_ambulance = rng.random() < AMBULANCE_SHARE
        department: DepartmentType = "type_1" if by_ambulance or rng.random() < 0.8 else "type_3"
        queue.push(
            arrived,
            EdArrival(
                **self._env(arrived),
                attendance_ref=ref,
                arrival_mode="ambulance" if by_ambulance else rng.choice(("walk_in", "other")),
                department_type=department,
            ),
        )
        if by_ambulance:
            median = (
                HANDOVER_DELAY_MEDIAN_MINUTES
                if cond.on("handover_delays", arrived)
                else HANDOVER_MEDIAN_MINUTES
            )
            minutes = median * math.exp(rng.gauss(0.0, HANDOVER_SIGMA))
            # the ambulance arrived before the department registered the attendance
            ambulance_at = arrived - int(rng.uniform(1, 5) * 60)
            handed = ambulance_at + int(minutes * 60)
            queue.push(
                max(handed, arrived),
                AmbulanceHandover(
                    **self._env(max(handed, arrived)),
                    attendance_ref=ref,
                    arrived_at=at(ambulance_at),
                ),
            )
        if department == "type_1" and rng.random() < ADMITTED_SHARE / 0.86:
            decided = arrived + int(rng.uniform(1.0, 3.5) * HOUR)
            queue.push(decided, EdDecisionToAdmit(**self._env(decided), attendance_ref=ref))
            low, high = BLOCKED_DTA_WAIT_HOURS if cond.on("exit_block", arrived) else DTA_WAIT_HOURS
            left = decided + int(rng.uniform(low, high) * HOUR)
            disposition: Disposition = "admitted"
        else:
            low, high = SLOW_STAY_HOURS if cond.on("ed_rota_mismatch", arrived) else STAY_HOURS
            left = arrived + int(rng.uniform(low, high) * HOUR)
            draw = rng.random()
            disposition = (
                "left_before_treatment"
                if draw < 0.03
                else "transferred"
                if draw < 0.04
                else "discharged"
            )
        queue.push(
            left, EdDeparture(**self._env(left), attendance_ref=ref, disposition=disposition)
        )
