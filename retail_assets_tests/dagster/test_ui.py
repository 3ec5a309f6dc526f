"""`dagster dev` against the embedded stack, looked at in headless Chromium; a UI backfill of one store.

The browser is Debian's chromium driven by its chromedriver (Selenium). The backfill is launched
through the webserver's GraphQL API with the same mutation the UI's "Launch backfill" button sends.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import dagster as dg
import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

import retail_assets
from retail_assets.analytics.geometry import parse_geometry, put_geometry
from retail_assets.contracts.store_day import StoreDay
from retail_assets.defs.partitions import STORES_PARTITIONS_NAME
from retail_assets.lakehouse.bronze import BRONZE_TABLE, partition_filter
from retail_assets.lakehouse.catalog import open_catalog
from retail_assets.settings import default_geometry_uri
from retail_assets_tests.lakehouse.walkers import GEOMETRY_FILE
from retail_assets_tests.signals import default_stop_signals

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROME_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--window-size=1600,1000",
)
ASSETS = ("raw_videos", "detections", "pulsar_events", "bronze_raw")
ANALYTICS_ASSETS = (
    "silver_tracks",
    "silver_occupancy_minutely",
    "gold_footfall_hourly",
    "gold_occupancy_minutely",
    "gold_dwell_hourly",
    "gold_fall_alerts",
    "gold_store_daily",
)
STORE = "store-ui01"
DAYS = ("2026-11-25", "2026-11-26")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        body = json.loads(response.read())
    assert "errors" not in body, body
    return body["data"]


@pytest.fixture
def dagster_dev(stack, fresh_buckets, unique_topic, tmp_path, test_output_dir) -> Iterator[tuple[int, Path]]:
    """`dagster dev` on a free port; DAGSTER_HOME holds the package's local_dagster.yaml."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(Path(retail_assets.__file__).parent / "local_dagster.yaml", home / "dagster.yaml")
    videos, detections = fresh_buckets
    env = {
        **os.environ,
        **stack.env(),
        "DAGSTER_HOME": str(home),
        "RVA_VIDEOS_BUCKET": videos,
        "RVA_DETECTIONS_BUCKET": detections,
        "PULSAR_TOPIC": unique_topic,
    }
    port = _free_port()
    log = (test_output_dir / "dagster-dev.log").open("w")
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dagster"),
            "dev",
            "-m",
            "retail_assets.definitions",
            "-p",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=default_stop_signals,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None, f"dagster dev exited; see {log.name}"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"dagster dev did not answer in 180 s; see {log.name}"
                time.sleep(1)
        yield port, home
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: webserver and daemon shut down
        try:
            proc.wait(60)
            stopped_cleanly = True
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            stopped_cleanly = False
        log.close()
    assert stopped_cleanly, "dagster dev did not stop within 60 s of Ctrl-C"


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_for_text(driver: webdriver.Chrome, words: tuple[str, ...], out: Path, timeout: float = 90) -> str:
    """Wait until every word is visible; on timeout keep a screenshot and say what is missing."""

    def all_there(d: webdriver.Chrome) -> str | bool:
        text = d.find_element(By.TAG_NAME, "body").text
        return text if all(w in text for w in words) else False

    try:
        return WebDriverWait(driver, timeout, poll_frequency=1).until(all_there)
    except TimeoutException:
        driver.save_screenshot(str(out / "dagster-ui-timeout.png"))
        text = driver.find_element(By.TAG_NAME, "body").text
        missing = [w for w in words if w not in text]
        raise AssertionError(
            f"{driver.current_url}: {missing} not visible; page text: {text[:2000]!r}"
        ) from None


def _dismiss_newsletter_prompt(driver: webdriver.Chrome) -> None:
    """The UI's first visit opens a "Join the Dagster community" dialog over the graph."""
    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()


@pytest.mark.timeout(900)
def test_ui_shows_the_asset_graph_and_the_sensor(dagster_dev, browser, test_output_dir) -> None:
    port, _ = dagster_dev
    # The global lineage page first: the three groups.
    browser.get(f"http://127.0.0.1:{port}/asset-groups")
    _wait_for_text(
        browser, ("videos", "events", "lakehouse", "analytics", "Global asset lineage"), test_output_dir
    )
    _dismiss_newsletter_prompt(browser)

    # bronze_raw's upstream lineage: all four assets, expanded, with their checks and kinds.
    browser.get(
        f"http://127.0.0.1:{port}/assets/rva/bronze_raw?view=lineage&lineageScope=upstream&lineageDepth=4"
    )
    text = _wait_for_text(browser, (*ASSETS, "Asset checks", "Iceberg", "Pulsar", "PyTorch"), test_output_dir)
    assert text.count("Partitions") >= 4
    browser.save_screenshot(str(test_output_dir / "dagster-asset-lineage.png"))

    browser.get(f"http://127.0.0.1:{port}/automation")
    _wait_for_text(
        browser, ("new_video_sensor", "Standard sensor", "nightly_store_rerun", "02:30"), test_output_dir
    )
    states = _graphql(port, INSTIGATORS)["repositoryOrError"]
    assert {s["name"]: s["sensorState"]["status"] for s in states["sensors"]} == {
        "new_video_sensor": "RUNNING",
        "rva_automation_sensor": "RUNNING",  # silver and gold refresh on their own
    }
    assert {s["name"]: s["scheduleState"]["status"] for s in states["schedules"]} == {
        "nightly_store_rerun": "RUNNING",
        "weekly_lakehouse_maintenance": "RUNNING",
    }
    browser.save_screenshot(str(test_output_dir / "dagster-automation.png"))

    browser.get(f"http://127.0.0.1:{port}/assets/rva/detections")
    _wait_for_text(
        browser, ("s3://<detections bucket>", "store_day_job", "new_video_sensor"), test_output_dir
    )
    browser.save_screenshot(str(test_output_dir / "dagster-detections.png"))

    assert (test_output_dir / "dagster-asset-lineage.png").stat().st_size > 10_000


INSTIGATORS = """
query {
  repositoryOrError(repositorySelector: {repositoryLocationName: "retail_assets.definitions", repositoryName: "__repository__"}) {
    ... on Repository {
      sensors { name sensorState { id status } }
      schedules { name scheduleState { status } }
    }
  }
}"""
STOP_SENSOR = """
mutation Stop($id: String!) {
  stopSensor(id: $id) {
    __typename
    ... on StopSensorMutationResult { instigationState { status } }
    ... on PythonError { message }
  }
}"""
LAUNCH_BACKFILL = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}"""
BACKFILL_STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    __typename
    ... on PartitionBackfill { status numCancelable }
  }
}"""


@pytest.mark.timeout(1200)
def test_ui_backfill_of_a_date_range_for_one_store(
    dagster_dev, s3, fresh_buckets, short_clip, browser, test_output_dir
) -> None:
    port, home = dagster_dev
    videos, detections = fresh_buckets
    # The demo store's camera lines and zones, for this store, where the pipeline reads them.
    text = GEOMETRY_FILE.read_text().replace("store_id: store-001", f"store_id: {STORE}")
    put_geometry(default_geometry_uri(detections), parse_geometry(text, "test"), text, s3)
    # Turn the sensor off first (its toggle on the Automation page) so that only the backfill's
    # runs process these uploads.
    [sensor] = [
        s
        for s in _graphql(port, INSTIGATORS)["repositoryOrError"]["sensors"]
        if s["name"] == "new_video_sensor"
    ]
    stopped = _graphql(port, STOP_SENSOR, {"id": sensor["sensorState"]["id"]})["stopSensor"]
    assert stopped["instigationState"]["status"] == "STOPPED", stopped
    for day in DAYS:
        s3.upload_file(str(short_clip), videos, f"{STORE}/cam-1/{day}/090000.avi")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(STORES_PARTITIONS_NAME, [STORE])

    # What the UI sends after picking store-ui01 and the date range in the Materialize dialog.
    params = {
        "partitionNames": [f"{day}|{STORE}" for day in DAYS],
        "assetSelection": [{"path": ["rva", name]} for name in ASSETS + ANALYTICS_ASSETS],
        "title": f"{STORE} {DAYS[0]}..{DAYS[-1]}",
        # The launchpad's run config: a short frame budget keeps the test's inference small.
        "runConfigData": {"ops": {"rva__detections": {"config": {"max_frames": 5}}}},
    }
    launched = _graphql(port, LAUNCH_BACKFILL, {"params": params})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    deadline = time.monotonic() + 900
    while True:
        status = _graphql(port, BACKFILL_STATUS, {"id": launched["backfillId"]})["partitionBackfillOrError"]
        if status["status"] not in ("REQUESTED", "CANCELING", "FAILING"):
            break
        assert time.monotonic() < deadline, status
        time.sleep(5)
    assert status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), status

    table = open_catalog("lakehouse").load_table(BRONZE_TABLE)
    for day in DAYS:
        rows = table.scan(row_filter=partition_filter(StoreDay(date.fromisoformat(day), STORE))).to_arrow()
        assert rows.num_rows > 0
        assert set(rows.column("source_partition").to_pylist()) == {f"{day}|{STORE}"}

    # The materialization's annotated preview frame renders on the asset page.
    browser.get(f"http://127.0.0.1:{port}/assets/rva/detections?partition={DAYS[-1]}%7C{STORE}")
    _wait_for_text(
        browser, ("preview", "[Show Markdown]", "achieved_fps", "distinct_tracks"), test_output_dir
    )
    _dismiss_newsletter_prompt(browser)
    link = browser.find_element(By.XPATH, "//*[text()='[Show Markdown]']")
    browser.execute_script("arguments[0].scrollIntoView(); arguments[0].click()", link)
    image = WebDriverWait(browser, 30).until(
        lambda d: next(
            (
                i
                for i in d.find_elements(By.TAG_NAME, "img")
                if (i.get_attribute("src") or "").startswith("data:image/jpeg")
            ),
            None,
        )
    )
    assert image.size["width"] > 100
    browser.save_screenshot(str(test_output_dir / "dagster-detections-preview.png"))

    # The store-day's answers: gold_store_daily's latest materialization shows the heatmap of foot
    # positions (over the camera's blurred preview, lines and zones drawn) and the hourly chart.
    browser.get(f"http://127.0.0.1:{port}/assets/rva/gold_store_daily?partition={DAYS[-1]}%7C{STORE}")
    _wait_for_text(
        browser, ("heatmap cam-1", "footfall per hour", "visitors_in", "peak_occupancy"), test_output_dir
    )
    link = browser.find_element(By.XPATH, "//tr[.//*[text()='heatmap cam-1']]//*[text()='[Show Markdown]']")
    browser.execute_script("arguments[0].scrollIntoView(); arguments[0].click()", link)
    heatmap = WebDriverWait(browser, 30).until(
        lambda d: next(
            (
                i
                for i in d.find_elements(By.TAG_NAME, "img")
                if (i.get_attribute("alt") or "") == "heatmap cam-1"
            ),
            None,
        )
    )
    assert (heatmap.get_attribute("src") or "").startswith("data:image/png;base64,")
    browser.execute_script("arguments[0].scrollIntoView()", heatmap)
    assert heatmap.size["width"] > 200  # rendered, not a broken-image icon
    browser.save_screenshot(str(test_output_dir / "dagster-gold-heatmap.png"))
