"""The map "as of" a month in a real headless Chromium: the 等级截至 field lives in
the URL like the other filters, the enterprise tiles are asked for that month's
grades, and the indicator strip counts them.

The map register (``browser/map_world.py``) was registered today: at the end of
last month none of its seven 红河州 enterprises existed yet.
"""

from __future__ import annotations

import datetime as dt

from live import login


def _strip(page, name: str) -> str:  # type: ignore[no-untyped-def]
    return page.locator(f"#rm-indicators .rm-ind-{name} .rm-n").inner_text()


def test_the_as_of_month_lives_in_the_url_and_reaches_the_tiles(live_server, page):  # type: ignore[no-untyped-def]
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    login(page, live_server.url)
    last = (dt.date.today().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    page.goto(live_server.url + "/map?region=532500", wait_until="networkidle")
    page.wait_for_function("() => document.querySelector('#rm-indicators .rm-ind-enterprises .rm-n')"
                           ".textContent === '7'")
    assert "月任务完成率" in page.locator("#rm-indicators").inner_text()

    page.fill("input[name=as_of]", last)
    page.dispatch_event("input[name=as_of]", "change")
    page.wait_for_function("(m) => new URLSearchParams(location.search).get('as_of') === m", arg=last)
    page.wait_for_function("() => document.querySelector('#rm-indicators .rm-ind-enterprises .rm-n')"
                           ".textContent === '0'")
    page.wait_for_timeout(500)
    assert any("/tiles/enterprises/" in u and f"as_of={last}" in u for u in requests)

    # the URL opens the same view again, the field filled in
    page.goto(live_server.url + f"/map?region=532500&as_of={last}", wait_until="networkidle")
    assert page.locator("input[name=as_of]").input_value() == last
    page.wait_for_function("() => document.querySelector('#rm-indicators .rm-ind-enterprises .rm-n')"
                           ".textContent === '0'")
