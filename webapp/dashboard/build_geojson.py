"""Build the offline world-map asset ``assets/countries.geojson`` from Natural Earth.

Run once when the source changes::

    python -m webapp.dashboard.build_geojson /work/shared/datasets/geo/ne_50m_admin_0_countries.geojson

The 1:50m file is used because small countries of real shop data (Singapore, Hong Kong,
Malta, Bahrain, Jersey, Guernsey) are missing from the 1:110m one. To keep the browser
download small, rings are simplified (Douglas–Peucker), coordinates rounded to 0.01°
(about 1 km), tiny islands dropped, and only the properties the map needs are kept:
``iso_a2`` (joins ``country_code`` of the warehouse) and ``name``. Russia and Fiji cross the
antimeridian: their parts west of −150° are shifted by +360° so each draws as one shape.
"""
from __future__ import annotations

import json
import logging
import math
import sys
from pathlib import Path

log = logging.getLogger(__name__)

TOLERANCE_DEGREES = 0.05
DECIMALS = 2
MIN_RING_AREA = 0.02          # square degrees; smaller rings are dropped unless a country's only one
ANTIMERIDIAN_COUNTRIES = {"RU", "FJ"}
#: Natural Earth writes -99 for Kosovo; N. Cyprus and Somaliland stay out (no ISO code of their own).
CODE_FIXES = {"KOS": "XK"}
TARGET = Path(__file__).parent / "assets" / "countries.geojson"


def simplify(points: list[list[float]], tolerance: float) -> list[list[float]]:
    """Douglas–Peucker on one ring (first point == last point kept)."""
    if len(points) < 5:
        return points
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        (x1, y1), (x2, y2) = points[first], points[last]
        dx, dy = x2 - x1, y2 - y1
        norm = math.hypot(dx, dy)
        worst, worst_index = 0.0, None
        for index in range(first + 1, last):
            x0, y0 = points[index]
            if norm == 0:
                distance = math.hypot(x0 - x1, y0 - y1)
            else:
                distance = abs(dy * x0 - dx * y0 + x2 * y1 - y2 * x1) / norm
            if distance > worst:
                worst, worst_index = distance, index
        if worst_index is not None and worst > tolerance:
            keep[worst_index] = True
            stack.extend([(first, worst_index), (worst_index, last)])
    return [point for point, kept in zip(points, keep) if kept]


def ring_area(points: list[list[float]]) -> float:
    return abs(sum(x1 * y2 - x2 * y1
                   for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]))) / 2


def clean_ring(points: list[list[float]], shift: bool) -> list[list[float]]:
    if shift:
        points = [[x + 360 if x < -150 else x, y] for x, y in points]
    points = simplify(points, TOLERANCE_DEGREES)
    rounded: list[list[float]] = []
    for x, y in points:
        point = [round(x, DECIMALS), round(y, DECIMALS)]
        if not rounded or rounded[-1] != point:
            rounded.append(point)
    if rounded[0] != rounded[-1]:
        rounded.append(rounded[0])
    return rounded


def clean_polygons(polygons: list, shift: bool) -> list:
    cleaned = []
    for polygon in polygons:
        outer = clean_ring(polygon[0], shift)
        if len(outer) < 4:
            continue
        holes = [ring for ring in (clean_ring(r, shift) for r in polygon[1:])
                 if len(ring) >= 4 and ring_area(ring) >= MIN_RING_AREA]
        cleaned.append((ring_area(outer), [outer, *holes]))
    cleaned.sort(key=lambda item: -item[0])
    big = [polygon for area, polygon in cleaned if area >= MIN_RING_AREA]
    return big or [polygon for _area, polygon in cleaned[:1]]


def build(source: Path) -> dict:
    """The simplified FeatureCollection (properties ``iso_a2`` and ``name``)."""
    collection = json.loads(source.read_text())
    features = []
    for feature in collection["features"]:
        props = feature["properties"]
        code = props.get("iso_a2") or "-99"
        if code == "-99":
            code = CODE_FIXES.get(props.get("adm0_a3"), "")
        if not code or feature["geometry"] is None:
            continue
        geometry = feature["geometry"]
        polygons = (geometry["coordinates"] if geometry["type"] == "MultiPolygon"
                    else [geometry["coordinates"]])
        polygons = clean_polygons(polygons, shift=code in ANTIMERIDIAN_COUNTRIES)
        if not polygons:
            continue
        features.append({
            "type": "Feature",
            "properties": {"iso_a2": code, "name": props.get("name") or props.get("admin")},
            "geometry": ({"type": "Polygon", "coordinates": polygons[0]} if len(polygons) == 1
                         else {"type": "MultiPolygon", "coordinates": polygons}),
        })
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.INFO)
    source = Path(argv[1]) if len(argv) > 1 else Path(
        "/work/shared/datasets/geo/ne_50m_admin_0_countries.geojson")
    collection = build(source)
    TARGET.write_text(json.dumps(collection, separators=(",", ":")))
    log.info("wrote %s: %d countries, %d bytes", TARGET, len(collection["features"]),
             TARGET.stat().st_size)


if __name__ == "__main__":
    main(sys.argv)
