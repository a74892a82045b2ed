#!/usr/bin/env bash
# test_report_render.sh - render report pages from synthetic studies
# (build/tests/tools/report_demo) and check each in headless Chromium
# (tests/browser/check_page.py): it loads without console errors or network
# requests, is not blank, every plot has ink, and the DOM has the expected
# marks:
#   grid   12 trials x 2 parameters, metric val_loss (lower is better):
#          12 curves, 2 axes, a 4 x 3 heat map,
#          a working sort script;
#   asha   81 trials with stopped, failed, running and pending trials and
#          HTML in every string: one curve per trial with epochs, stopped
#          curves end on a rung line, injected markup stays text;
#   large  10,000 trials x 30 epochs: thinned to the documented numbers
#          (read from include/report.h), file size and render time reported.
# Skips (with the reason) when Chromium or the demo tool is missing.
# HPTUNE_REPORT_SHOTS=DIR keeps screenshots of the pages there.
: "${HPTUNE_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
source "$HPTUNE_ROOT/tests/integration/lib.sh"

DEMO=$HPTUNE_ROOT/${BUILD:-build}/tests/tools/report_demo
CHECKER=$HPTUNE_ROOT/tests/browser/check_page.py
if [ ! -x "$DEMO" ]; then
    skip report_render "no report_demo at $DEMO (run make all)"
    exit 0
fi
if [ ! -x /usr/bin/python3 ]; then
    skip report_render "no /usr/bin/python3 to drive the browser"
    exit 0
fi
SHOTS=${HPTUNE_REPORT_SHOTS:-}
[ -n "$SHOTS" ] && mkdir -p "$SHOTS"

define() { awk -v n="$1" '$1 == "#define" && $2 == n {print $3}' "$HPTUNE_ROOT/include/report.h"; }
CURVES_BEST=$(define HP_REPORT_CURVES_BEST)
CURVES_SPREAD=$(define HP_REPORT_CURVES_SPREAD)
LINES_BEST=$(define HP_REPORT_LINES_BEST)
LINES_SPREAD=$(define HP_REPORT_LINES_SPREAD)

# render NAME demo-args... : writes $TMP/NAME.html, sets $demo_out
render() {
    local name=$1; shift
    if demo_out=$("$DEMO" --out "$TMP/$name.html" "$@" 2>&1); then
        pass "report_render_$name"
        echo "INFO $demo_out"
        return 0
    fi
    fail "report_render_$name" "report_demo failed: $demo_out"
    return 1
}
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$demo_out"; }

browser_skipped=0
# check NAME checker-args... : runs the checker; its PASS/FAIL lines are the results
check() {
    local name=$1; shift
    [ "$browser_skipped" = 1 ] && return
    local shot_args=()
    [ -n "$SHOTS" ] && shot_args=(--screenshot "$SHOTS/$name.png" --print-shot "$SHOTS/$name-print.png")
    local out rc
    out=$(/usr/bin/python3 "$CHECKER" "$TMP/$name.html" --name "report_$name" "${shot_args[@]}" "$@" 2>&1); rc=$?
    grep -E '^(PASS|FAIL|INFO) ' <<<"$out"
    if [ $rc -eq 77 ]; then
        skip "report_browser" "$(sed -n 's/^SKIP [^:]*: //p' <<<"$out" | head -1)"
        browser_skipped=1
    elif [ $rc -ne 0 ] && ! grep -q '^FAIL ' <<<"$out"; then
        fail "report_$name" "checker exited with status $rc: $(tail -3 <<<"$out" | tr '\n' ' ')"
    fi
}

# The checker must be able to fail: a page with a console error, an
# uncaught exception, a network request and an alert(), and a blank page.
negative_control() {
    [ "$browser_skipped" = 1 ] && return
    cat >"$TMP/bad.html" <<'END'
<!DOCTYPE html><html><head><meta charset="utf-8"><title>bad</title></head><body>
<h1>bad page</h1><img src="http://192.0.2.1/x.png" alt="">
<script>console.error("deliberate error"); alert("deliberate dialog"); undefinedFunction();</script>
</body></html>
END
    printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>blank</title></head><body></body></html>\n' \
        >"$TMP/blank.html"
    local out rc want
    out=$(/usr/bin/python3 "$CHECKER" "$TMP/bad.html" --name bad 2>&1); rc=$?
    [ $rc -eq 77 ] && return
    for want in 'console.error: deliberate error' 'uncaught exception: ReferenceError' 'JavaScript dialog' \
        'network request from an offline page: http://192.0.2.1'; do
        if [ $rc -ne 1 ] || ! grep -q "^FAIL bad/errors:.*$want" <<<"$out"; then
            fail report_checker_catches_errors "status $rc, no '$want' in: $(grep -E '^(FAIL|PASS)' <<<"$out" | tr '\n' ' ')"
            return
        fi
    done
    pass report_checker_catches_errors
    out=$(/usr/bin/python3 "$CHECKER" "$TMP/blank.html" --name blank 2>&1); rc=$?
    if [ $rc -eq 1 ] && grep -q '^FAIL blank/ink: first screen is blank' <<<"$out"; then
        pass report_checker_catches_blank
    else
        fail report_checker_catches_blank "status $rc: $(grep -E '^(FAIL|PASS)' <<<"$out" | tr '\n' ' ')"
    fi
}

count() { echo "document.querySelectorAll(\"$1\").length"; }
# JS: every stopped trial's training-loss curve ends on the x of a rung line
stopped_end_on_rungs='(function(){var xs={};document.querySelectorAll("#curves line.rung").forEach(function(l){xs[l.getAttribute("x1")]=1});var n=0,bad=0;document.querySelectorAll("#curves g[data-trial]").forEach(function(g){if(g.querySelector("title").textContent.indexOf(" stopped ")<0)return;n++;var pts=g.querySelector("path").getAttribute("d").split(/[M ]+/).filter(Boolean);if(!xs[pts[pts.length-1].split(",")[0]])bad++});return n>0&&bad==0?"ok":n+" stopped curves, "+bad+" ending off a rung"})()'
# JS: clicking the metric header sorts the table by it (ascending, dashes last)
sorted_by_metric='(function(){var t=document.getElementById("trial-table");t.tHead.rows[0].cells[5].click();var v=Array.from(t.tBodies[0].rows).map(function(r){return r.cells[5].textContent});var k=v.indexOf("\u2014");var nums=(k<0?v:v.slice(0,k)).map(Number);return nums.every(function(x,i){return i==0||nums[i-1]<=x})&&(k<0||v.slice(k).every(function(s){return s=="\u2014"}))})()'

# ------------------------------------------------------------ small grid
if render grid --kind grid --trials 12 --epochs 10 --val-loss; then
    check grid \
        --eq "$(count '#curves [data-trial]')" 12 \
        --eq 'document.querySelector("#curves svg").dataset.curves' '"12"' \
        --eq "$(count '[data-axis]')" 2 \
        --eq "$(count '[data-axis=learning_rate]') + $(count '[data-axis=optimizer]')" 2 \
        --eq "$(count '#slices svg.plot')" 2 \
        --eq 'document.querySelector("#heatmap svg").dataset.cells' '"12"' \
        --eq "$(count '#trial-table tbody tr')" 12 \
        --eq "$(count '#confusion table.cm tbody tr')" 10 \
        --eq "$sorted_by_metric" true
fi

# ------------------------------------------- ASHA with every kind of trial
if render asha --kind asha --trials 81 --epochs 27 --failures 6 --running 2 --pending 2 --nasty; then
    with_epochs=$(field with_epochs)
    check asha \
        --eq "$(count '#curves [data-trial]')" "$with_epochs" \
        --eq 'document.querySelector("#curves svg").dataset.curvesTotal' "\"$with_epochs\"" \
        --eq "$(count '[data-axis]')" 6 \
        --eq "$(count '#curves line.rung')" 16 \
        --eq "$stopped_end_on_rungs" '"ok"' \
        --eq 'document.title.indexOf("<img src=x onerror=alert(1)>") == 0' true \
        --eq "$(count 'img')" 0 \
        --eq "$(count 'script')" 1 \
        --eq 'document.getElementById("trial-table").textContent.indexOf("<script>alert(\"x\")</script>") > 0' true \
        --eq "$(count '#trial-table tbody tr')" 81 \
        --pdf "$TMP/asha.pdf"
fi

# ------------------------------------------------------- 10,000 trials
if render large --kind random --trials 10000 --epochs 30 --failures 50 --running 10; then
    with_epochs=$(field with_epochs)
    bytes=$(field bytes)
    seconds=$(field render_seconds)
    echo "INFO large report: $bytes bytes, rendered in $seconds s"
    if [ "$bytes" -lt 4000000 ]; then pass report_large_size
    else fail report_large_size "$bytes bytes for 10,000 trials (want < 4 MB)"; fi
    check large --timeout 50 \
        --eq "$(count '#curves [data-trial]')" "$((CURVES_BEST + CURVES_SPREAD))" \
        --eq 'document.querySelector("#curves svg").dataset.curvesTotal' "\"$with_epochs\"" \
        --eq "$(count '#parallel g.pcl path')" "$((LINES_BEST + LINES_SPREAD))" \
        --eq "$(count '[data-axis]')" 6 \
        --eq "$(count '#trial-table tbody tr')" 10000
fi

negative_control
