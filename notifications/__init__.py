"""政策推送: notifications sent once, to the enterprises it is told of, refusable.

The package is given who to notify of what (:func:`notifications.outbox.enqueue`); it knows no
policy internals and no web. The outbox (:mod:`~notifications.outbox`) records one row per
enterprise, policy version and kind; :mod:`~notifications.dispatch` sends them through a
:mod:`~notifications.notifier` in the configured hours at a capped rate.
"""
