"""The fair queue: users take turns, caps skip a user, order and positions agree."""

from services.jobs.fairqueue import FairQueue, QueuedJob


def _fill(q: FairQueue, user: int, n: int, prefix: str) -> None:
    for i in range(n):
        q.push(QueuedJob(f"{prefix}{i}", user))


def test_a_user_with_ten_jobs_does_not_starve_a_user_with_one() -> None:
    q = FairQueue()
    _fill(q, 1, 10, "a")
    q.push(QueuedJob("b0", 2))
    first_two = [q.pop(lambda u, j: True), q.pop(lambda u, j: True)]
    assert [j.job_id for j in first_two if j] == ["a0", "b0"]
    rest = []
    while (job := q.pop(lambda u, j: True)) is not None:
        rest.append(job.job_id)
    assert rest == [f"a{i}" for i in range(1, 10)]


def test_round_robin_across_three_users_keeps_each_users_fifo() -> None:
    q = FairQueue()
    _fill(q, 1, 3, "a")
    _fill(q, 2, 2, "b")
    _fill(q, 3, 1, "c")
    order = []
    while (job := q.pop(lambda u, j: True)) is not None:
        order.append(job.job_id)
    assert order == ["a0", "b0", "c0", "a1", "b1", "a2"]


def test_positions_match_the_order_jobs_would_start() -> None:
    q = FairQueue()
    _fill(q, 1, 3, "a")
    _fill(q, 2, 1, "b")
    assert q.positions() == {"a0": 1, "b0": 2, "a1": 3, "a2": 4}


def test_users_at_their_cap_are_skipped_not_dropped() -> None:
    q = FairQueue()
    _fill(q, 1, 2, "a")
    _fill(q, 2, 1, "b")
    job = q.pop(lambda u, j: u != 1)
    assert job is not None and job.job_id == "b0"
    assert q.pop(lambda u, j: u != 1) is None
    assert len(q) == 2
    job = q.pop(lambda u, j: True)
    assert job is not None and job.job_id == "a0"


def test_remove_a_queued_job() -> None:
    q = FairQueue()
    _fill(q, 1, 2, "a")
    assert q.remove("a0")
    assert not q.remove("a0")
    assert q.positions() == {"a1": 1}
    assert q.count_for(1) == 1


def test_a_user_just_served_waits_behind_a_newcomer() -> None:
    q = FairQueue()
    q.push(QueuedJob("a0", 1))
    assert q.pop(lambda u, j: True) == QueuedJob("a0", 1)
    _fill(q, 1, 2, "a1-")
    q.push(QueuedJob("b0", 2))
    assert list(q.order()) == ["b0", "a1-0", "a1-1"]
    assert q.pop(lambda u, j: True) == QueuedJob("b0", 2)
