"""The Dagster sensors that deliver alerts for the runs the daemon sees: one for failed runs,
one for successful ones (whose failed ERROR checks, drift and freshness warnings are alerts
too). Both are on by default, and both do nothing until an alert channel is configured
(README, "Alerts"). `l2c run` executes in-process, without the daemon, and delivers the same
alerts itself through the same functions and the same ledger, so none is sent twice."""

from __future__ import annotations

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from .alerts import notify_run


def _deliver(context: RunStatusSensorContext) -> None:
    report = notify_run(context.instance, context.dagster_run.run_id, log=context.log)
    if report.sent or report.already_sent:  # (a failed channel has said so in its own line)
        context.log.info(f"run {context.dagster_run.run_id}: {report.summary()}")
    # Nothing returned: the sensor goes on to the next finished run in the same tick.


@run_failure_sensor(
    name="l2c_alerts_on_failure",
    default_status=DefaultSensorStatus.RUNNING,
    description="A failed run (and its failed ERROR checks, drift and freshness warnings) to the "
    "alert webhook and/or e-mail, each alert once (README, Alerts).",
)
def alerts_on_failure(context: RunFailureSensorContext) -> None:
    _deliver(context)


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    name="l2c_alerts_on_success",
    default_status=DefaultSensorStatus.RUNNING,
    description="A successful run's failed ERROR checks, new drift and freshness warnings to the "
    "alert webhook and/or e-mail, each alert once (README, Alerts).",
)
def alerts_on_success(context: RunStatusSensorContext) -> None:
    _deliver(context)


ALERT_SENSORS = [alerts_on_failure, alerts_on_success]
