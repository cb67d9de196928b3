"""The enterprise register (一企一档): enterprises by 统一社会信用代码, their facts in the policy
dictionary's fields with source, as-of date and history, and who read or exported them."""
