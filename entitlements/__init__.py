"""What each enterprise of the register is entitled to: the batch over the whole register, the
departments' 免申即享 work lists, what is pushed to whom, and an enterprise's 我的政策.

It joins three lower packages and owns only what joins them: ``policies`` decides (the
vectorised batch), ``enterprises`` knows the facts and their sources, ``notifications`` sends
once. Knows no web.
"""
