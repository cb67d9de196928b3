"""政策体检: which government policies (政策, 事项) an enterprise qualifies for, and why.

Not to be confused with :mod:`xiaobao.policy`, which says who may do what in the consoles.
A domain package that knows no web: the field dictionary (:mod:`policies.fields`), the facts
an enterprise gives (:mod:`policies.facts`), the size class by 工信部联企业〔2011〕300号
(:mod:`policies.scale`), condition trees and their three-valued evaluation
(:mod:`policies.conditions`), the check of a set of policies on a date
(:mod:`policies.evaluator`) and the next question worth asking (:mod:`policies.planner`).
"""
