"""``flask --app wsgi data …``: load files, the shipped sample or the demo data; show status.

    data load PATH [--format auto|online-retail|shopify|woocommerce|generic]
              [--mapping MAPPING.json] [--append] [--force]
    data load --sample online-retail [--append] [--force]
    data mapping PATH [--format auto|shopify|woocommerce|online-retail]
    data demo [--lines N] [--seed S]
    data load-sessions PATH [--format ga4|generic] [--mapping MAPPING.json]
    data load-ads PATH --format google-ads|meta-ads|generic [--mapping MAPPING.json] [--force]
    data status

Each load prints the data-quality report; a refused load exits with status 1 and its
one-line reason. ``--force`` publishes a replacing load that keeps far fewer lines than the
current version or rejects many of its lines (refused otherwise); input limits still hold.
"""
from __future__ import annotations

import json
from pathlib import Path

import click
from flask.cli import AppGroup

from analytics.warehouse import NoDataError
from core import loads
from core.orm import DataLoad
from data import formats, traffic
from data.loader import FORMATS, SAMPLES
from data.quality import render_report
from data.readers import ReadError, read_header
from webapp import services

data_cli = AppGroup("data", help="Load data into the warehouse and show what is loaded.")


@data_cli.command("load")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="online-retail",
              show_default=True,
              help="Layout of the file; auto: the layout its header looks like.")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON column mapping for --format generic (see docs/mapping.md).")
@click.option("--append", is_flag=True,
              help="Add the file's new lines to the current data instead of replacing it.")
@click.option("--sample", type=click.Choice(list(SAMPLES)),
              help="Load a sample shipped with Shoplens instead of a file.")
@click.option("--force", is_flag=True,
              help="Replace the data even if the file keeps far fewer lines than the current "
                   "version or rejects many of its lines.")
def load_command(path: Path | None, file_format: str, mapping: Path | None, append: bool,
                 sample: str | None, force: bool) -> None:
    """Load PATH (or --sample NAME) as a new data version."""
    settings = services.settings()
    if sample and path:
        raise click.UsageError("Give a PATH or --sample, not both")
    if sample:
        if mapping is not None:
            raise click.UsageError("--mapping is not used with --sample")
        record = loads.run_sample_load(settings, sample, append=append, force=force)
    elif path is not None:
        record = loads.run_load(settings, path=path, format=file_format, mapping=mapping,
                                append=append, force=force)
    else:
        raise click.UsageError("Give the PATH of a file to load, or --sample online-retail")
    _echo_outcome(record, services.locale().symbol)


@data_cli.command("mapping")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format",
              type=click.Choice([name for name in FORMATS if name != "generic"]),
              default="auto", show_default=True, help="The format whose mapping to show.")
def mapping_command(path: Path, file_format: str) -> None:
    """Print, as JSON, the mapping a format reads PATH with (docs/mapping.md): what it
    does with each column, and a start for a generic mapping of your own."""
    settings = services.settings()
    try:
        if file_format == "auto":
            file_format = formats.detected_format(path, settings.load_limits())
        names = read_header(path, limits=settings.load_limits())
        mapping = formats.mapping_for(file_format, names)
    except ReadError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(formats.mapping_json(mapping), indent=2, ensure_ascii=False))
    if formats.FORMATS[file_format].reshape is not None:
        click.echo(f"note: {file_format} reshapes the file before this mapping applies (one "
                   "row per product): it cannot be used with --format generic as it is",
                   err=True)


@data_cli.command("demo")
@click.option("--lines", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Number of invoice lines to generate.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Random seed (the same seed gives the same data).")
def demo_command(lines: int, seed: int) -> None:
    """Generate the synthetic demo data set and publish it (replaces the data)."""
    settings = services.settings()
    _echo_outcome(loads.run_demo_load(settings, lines=lines, seed=seed),
                  services.locale().symbol)


@data_cli.command("load-sessions")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(traffic.SESSION_FORMATS),
              default="ga4", show_default=True,
              help="ga4: a Google Analytics 4 export; generic: any table with --mapping.")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON column mapping for --format generic (see docs/marketing.md).")
def load_sessions_command(path: Path, file_format: str, mapping: Path | None) -> None:
    """Load daily sessions from PATH beside the current orders: they replace the sessions
    of the days the file covers, in a new data version."""
    settings = services.settings()
    record = loads.run_sessions_load(settings, path=path, format=file_format, mapping=mapping)
    _echo_traffic_outcome(record)


@data_cli.command("load-ads")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(traffic.AD_FORMATS),
              required=True, help="google-ads: a Google Ads campaign report; meta-ads: a "
                                  "Meta Ads Manager export; generic: any table with --mapping.")
@click.option("--mapping", type=click.Path(dir_okay=False, path_type=Path),
              help="JSON column mapping for --format generic (see docs/marketing.md).")
@click.option("--force", is_flag=True,
              help="Publish even with rejected lines (left out, counted) or amounts in "
                   "another currency than the orders'.")
def load_ads_command(path: Path, file_format: str, mapping: Path | None, force: bool) -> None:
    """Load daily ad spend from PATH beside the current orders: it replaces the ad rows of
    the days and channels the file covers, in a new data version."""
    settings = services.settings()
    record = loads.run_ads_load(settings, path=path, format=file_format, mapping=mapping,
                                force=force)
    _echo_traffic_outcome(record)


def _echo_traffic_outcome(record: DataLoad) -> None:
    if record.status != "done":
        raise click.ClickException(record.error or "the load failed")
    click.echo(traffic.render_traffic_report(record.quality or {}))
    click.echo(f"Published data version {record.version}: {record.lines_loaded:,} lines "
               f"loaded, {record.lines_rejected:,} rejected in {record.seconds:.1f} s")
    if record.rejects_path:
        click.echo(f"Rejected lines with their reasons: {record.rejects_path}")


@data_cli.command("status")
@click.option("--loads", "load_count", type=click.IntRange(min=0), default=5,
              show_default=True, help="How many recent loads to list.")
def status_command(load_count: int) -> None:
    """Show the current data version and the last loads."""
    settings = services.settings()
    warehouse = services.warehouse()
    try:
        info = warehouse.version_info()
    except NoDataError as exc:
        click.echo(str(exc))
    else:
        click.echo(f"Current data version {info.version} ({warehouse.kind}), published "
                   f"{info.created_at:%Y-%m-%d %H:%M:%S} from {info.source or 'unknown'}")
        click.echo(f"  lines      {info.line_count:,}")
        click.echo(f"  date range {info.min_ts} → {info.max_ts}")
        click.echo(f"  unit cost  {'yes' if info.has_cost else 'no'}; sessions "
                   f"{'yes' if info.has_sessions else 'no'}")
    recent = loads.last_loads(settings, load_count) if load_count else []
    if recent:
        click.echo("Last loads:")
        for record in recent:
            click.echo("  " + _load_line(record))


def _echo_outcome(record: DataLoad, currency: str) -> None:
    if record.status != "done":
        raise click.ClickException(record.error or "the load failed")
    click.echo(render_report(record.quality or {}, currency=currency))
    click.echo(f"Published data version {record.version}: {record.lines_loaded:,} lines "
               f"loaded, {record.lines_rejected:,} rejected in {record.seconds:.1f} s")
    if record.rejects_path:
        click.echo(f"Rejected lines with their reasons: {record.rejects_path}")


def _load_line(record: DataLoad) -> str:
    when = f"{record.started_at:%Y-%m-%d %H:%M:%S}"
    head = f"#{record.id} {when} {record.status:<7} {record.mode:<7} {record.source}"
    if record.status == "done":
        return (f"{head}: version {record.version}, {record.lines_loaded:,} lines loaded, "
                f"{record.lines_rejected:,} rejected, {record.seconds:.1f} s")
    if record.status == "failed":
        return f"{head}: {record.error}"
    return head
