"""Run the shop and its payment gateway on free local ports, walk one customer through, stop.

``python -m shop --in-code`` sets OpenTelemetry up in code, with otelpriv, printing to the
console; ``--raw`` does the same without otelpriv (to see what it removes). With neither, the
process expects ``opentelemetry-instrument`` to have set everything up (the no-code path).
"""

from __future__ import annotations

import argparse
import logging

from shop.app import create_payments, create_shop
from shop.journey import walk
from shop.serving import serving


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m shop", description=__doc__)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--in-code", action="store_true", help="OpenTelemetry with otelpriv")
    mode.add_argument("--raw", action="store_true", help="OpenTelemetry without otelpriv")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    telemetry = None
    if args.in_code or args.raw:
        from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        from shop.telemetry import set_up

        telemetry = set_up(
            ConsoleSpanExporter(),
            ConsoleLogRecordExporter(),
            ConsoleMetricExporter(),
            private=args.in_code,
        )
    payments = create_payments()
    with serving(payments) as payments_url:
        shop = create_shop(payments_url)
        if telemetry is not None:
            telemetry.instrument(shop, payments)
        with serving(shop) as shop_url:
            statuses = walk(shop_url)
    logging.getLogger("shop").info("journey done: %s", statuses)
    if telemetry is not None:
        telemetry.close()


if __name__ == "__main__":
    main()
