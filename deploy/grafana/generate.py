#!/usr/bin/env python3
"""Writes Palisade's provisionable Grafana dashboards (dashboards/*.json).

Run from this directory: python3 generate.py. The JSON is committed; a test checks that every
metric Palisade exports appears in a panel, and that each file is a dashboard Grafana provisions
(uid, title, panels with Prometheus targets on the ${datasource} variable).
"""
import json

DS = {"type": "prometheus", "uid": "${datasource}"}


def panel(pid, title, exprs, unit="short", kind="timeseries", w=12, h=8, x=0, y=0, legend="{{chain}}"):
    if isinstance(exprs, str):
        exprs = [exprs]
    return {
        "id": pid,
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": e, "legendFormat": legend}
            for i, e in enumerate(exprs)
        ],
    }


def dashboard(uid, title, rows):
    panels, pid, y = [], 1, 0
    for row in rows:
        x = 0
        for p in row:
            p = dict(p)
            p["id"] = pid
            p["gridPos"] = {"h": 8, "w": 24 // len(row), "x": x, "y": y}
            x += 24 // len(row)
            pid += 1
            panels.append(p)
        y += 8
    return {
        "uid": uid,
        "title": title,
        "tags": ["palisade"],
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                {
                    "name": "chain",
                    "type": "query",
                    "datasource": DS,
                    "query": "label_values(palisade_chain_tip_number, chain)",
                    "includeAll": True,
                    "multi": True,
                    "refresh": 2,
                },
            ]
        },
        "panels": panels,
    }


C = 'chain=~"$chain"'
chains = dashboard("palisade-chains", "Palisade: chains and sources", [
    [
        panel(0, "Processed tip and announced head", [f"palisade_chain_tip_number{{{C}}}", f"palisade_chain_head_number{{{C}}}"]),
        panel(0, "Lag behind the head (blocks)", f"palisade_chain_head_lag_blocks{{{C}}}"),
    ],
    [
        panel(0, "Seconds since the last block", f"palisade_chain_last_block_age_seconds{{{C}}}", unit="s"),
        panel(0, "Blocks committed and reverted per minute", [f"rate(palisade_chain_blocks_processed_total{{{C}}}[5m]) * 60", f"rate(palisade_chain_blocks_reverted_total{{{C}}}[5m]) * 60"]),
        panel(0, "Reorgs per hour", f"increase(palisade_chain_reorgs_total{{{C}}}[1h])"),
    ],
    [
        panel(0, "Quorum met (1) and endpoints counting", [f"palisade_source_quorum_met{{{C}}}", f"palisade_source_endpoints_counting{{{C}}}"]),
        panel(0, "Endpoint state", f"palisade_source_endpoint_state{{{C}}} == 1", legend="{{chain}} {{endpoint}} {{state}}"),
    ],
    [
        panel(0, "Endpoint latency", f"palisade_source_endpoint_latency_seconds{{{C}}}", unit="s", legend="{{chain}} {{endpoint}}"),
        panel(0, "Endpoint lag (blocks)", f"palisade_source_endpoint_head_lag_blocks{{{C}}}", legend="{{chain}} {{endpoint}}"),
    ],
    [
        panel(0, "Data integrity: verification failures", f"increase(palisade_verify_failures_total{{{C}}}[1h])", legend="{{chain}} {{check}}"),
        panel(0, "Endpoint faults", f"increase(palisade_source_endpoint_faults_total{{{C}}}[1h])", legend="{{chain}} {{endpoint}} {{fault}}"),
        panel(0, "Fetch errors per minute", f"rate(palisade_source_errors_total{{{C}}}[5m]) * 60"),
    ],
    [
        panel(0, "Settlement-risk index (0-100)", f"palisade_risk_index{{{C}}}", unit="short"),
        panel(0, "Settlement-risk components (0-1)", f"palisade_risk_component{{{C}}}", legend="{{chain}} {{component}}"),
    ],
])
detect = dashboard("palisade-detect", "Palisade: detectors and alerts", [
    [
        panel(0, "Findings per hour by detector", f"sum by (chain, detector) (increase(palisade_detect_findings_total{{{C}}}[1h]))", legend="{{chain}} {{detector}}"),
        panel(0, "Block to alert, p50 and p99", [f"histogram_quantile(0.5, sum by (chain, le) (rate(palisade_detect_block_to_alert_seconds_bucket{{{C}}}[10m])))", f"histogram_quantile(0.99, sum by (chain, le) (rate(palisade_detect_block_to_alert_seconds_bucket{{{C}}}[10m])))"], unit="s"),
    ],
    [
        panel(0, "Outbox: notifications waiting", "palisade_alert_outbox_depth", legend="outbox"),
        panel(0, "Delivered and failed per minute", ["rate(palisade_alert_delivered_total[5m]) * 60", "rate(palisade_alert_sink_failures_total[5m]) * 60"], legend="{{__name__}}"),
    ],
    [
        panel(0, "Process: memory and CPU", ["process_resident_memory_bytes", "rate(process_cpu_seconds_total[5m])"], legend="{{__name__}}"),
        panel(0, "Process: open files", "process_open_fds", legend="open fds"),
    ],
])
defense = dashboard("palisade-defense", "Palisade: mempool and defense", [
    [
        panel(0, "Pending transactions seen per second", f"rate(palisade_mempool_pending_seen_total{{{C}}}[5m])"),
        panel(0, "Simulations per second by result", f"rate(palisade_mempool_simulated_total{{{C}}}[5m])", legend="{{chain}} {{result}}"),
    ],
    [
        panel(0, "Pending transaction to verdict, p50 and p99", [f"histogram_quantile(0.5, sum by (chain, le) (rate(palisade_mempool_verdict_seconds_bucket{{{C}}}[10m])))", f"histogram_quantile(0.99, sum by (chain, le) (rate(palisade_mempool_verdict_seconds_bucket{{{C}}}[10m])))"], unit="s"),
        panel(0, "Responses by responder and outcome", "increase(palisade_respond_responses_total[1h])", legend="{{responder}} {{outcome}}"),
    ],
])
for name, d in [("chains", chains), ("detect", detect), ("defense", defense)]:
    with open(f"dashboards/palisade-{name}.json", "w") as f:
        json.dump(d, f, indent=2)
        f.write("\n")
