"""Two transactions at once on PostgreSQL: does the second wait for the first one's lock, and what does each get?"""
import threading

from rewards.extensions import db


def one_after_the_other(app, work) -> dict:
    """Run `work()` in two threads, each in its own app context and transaction, committed after it.

    The first holds its transaction open until the second has been seen blocked for 0.5 s, then commits.
    Returns {"first": …, "second": …}, each work()'s result or the exception it raised.
    """
    results, first_done, commit_first = {}, threading.Event(), threading.Event()

    def worker(name, before_commit):
        with app.app_context():
            try:
                results[name] = work()
                before_commit()
                db.session.commit()
            except Exception as exc:  # reported by the caller's assertions, not lost in the thread
                results[name] = exc
            finally:
                db.session.remove()

    first = threading.Thread(target=worker, args=("first", lambda: (first_done.set(), commit_first.wait(10))))
    second = threading.Thread(target=worker, args=("second", lambda: None))
    first.start()
    assert first_done.wait(10)
    second.start()
    second.join(0.5)
    assert second.is_alive(), "the second transaction must wait for the first one's lock"
    commit_first.set()
    first.join(10)
    second.join(10)
    return results
