from ..helpers import Api, make_test


def test_cli_flow_end_to_end(api: Api) -> None:
    run_id = api.create_run(name="Nightly", tags=["nightly", "t_2"], config="Chrome")
    thread_id = api.create_thread(run_id, elapsed_computed=3_500_000)
    tests = [make_test(f"t{i}") for i in range(10)] + [
        make_test(
            "bad",
            "failure",
            fields=[{"type": 4, "name": "Failure", "value": "boom", "is_highlight": True}],
        ),
        make_test("skip", "skipped", folder="Unnamed folder"),
    ]
    assert api.append(thread_id, tests).status_code == 204
    assert (
        api.post(f"/automation/runs/{run_id}/complete", {"measure_elapsed": False}).status_code
        == 204
    )
    run = api.run(run_id, expands="statuses,users,configs,automation_sources")["result"]
    assert run["is_completed"] and run["status"] == 3
    assert run["total_count"] == 12 and run["status1_count"] == 10 and run["status2_count"] == 1
    assert run["status5_count"] == 1 and run["failure_count"] == 1 and run["success_count"] == 10
    assert run["threads"][0]["is_completed"] and run["threads"][0]["name"] == "Thread 1"
    assert run["elapsed"] == 3_500_000
    assert run["tags"] == ["nightly", "t_2"]
    page = api.get(f"/automation/runs/{run_id}/tests", status_id="3").json()
    assert page["total"] == 1 and page["result"][0]["fields"][0]["value"] == "boom"
