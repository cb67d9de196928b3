"""The rates the centre is judged by (响应率, 解决率, 满意率, 不属实率, 首办成功率 …), computed from
the event log and the ticket records, and the 差评 rectification timers. Reads every lower
package; neither the bot nor the gateway is imported here."""
