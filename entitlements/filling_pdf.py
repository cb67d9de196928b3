"""智能填表 as a PDF to download: the pre-filled draft of :mod:`entitlements.filling`.

Chinese is set in reportlab's built-in CID font STSong-Light (Adobe-GB1, the reader's own
font): no font file to ship or find on a fresh machine. That font has no "✓", so a proven
material is marked "√" (in GB 2312).
"""
from __future__ import annotations

from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from entitlements.filling import FilledForm

FONT = "STSong-Light"
TO_FILL = "【待填写】"
HIGHLIGHT = colors.HexColor("#fff3b0")
STATUS = {"eligible": "符合", "possible": "可能符合（还需核实）"}
STATE_NOTE = {"authority": "", "stale": "（已超过有效期，请核实）", "declared": "（企业自述）",
              "given": "（企业自述）", "to_fill": ""}

pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _style(size: float, **extra) -> ParagraphStyle:
    return ParagraphStyle(f"s{size}", fontName=FONT, fontSize=size, leading=size * 1.45,
                          wordWrap="CJK", **extra)


def _p(text: str, size: float = 10, **extra) -> Paragraph:
    return Paragraph(escape(text), _style(size, **extra))


def pdf_bytes(filled: FilledForm) -> bytes:
    """The draft form as PDF bytes (A4)."""
    out = BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, title=f"{filled.title}（预填草稿）",
                            leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm,
                            bottomMargin=16 * mm)
    story: list = [_p(filled.title, 15, spaceAfter=4), _p("申请表（预填草稿）", 12, spaceAfter=8),
                   _p(f"企业名称：{filled.name or '（登记簿中暂无）'}"),
                   _p(f"统一社会信用代码：{filled.uscc}"),
                   _p(f"填表日期：{filled.day.isoformat()}　　"
                      f"体检结果：{STATUS.get(filled.status, filled.status)}"),
                   Spacer(1, 6)]
    rows: list[list] = [[_p("项目"), _p("内容"), _p("来源 / 日期")]]
    marked = []
    for number, f in enumerate(filled.fields, 1):
        label = f.label + ("（必填）" if f.required else "")
        if f.to_fill:
            rows.append([_p(label), _p(TO_FILL), _p(f.help or "")])
            marked.append(number)
        else:
            where = f"{f.source}，{f.as_of.isoformat() if f.as_of else ''}{STATE_NOTE[f.state]}"
            rows.append([_p(label), _p(f.shown), _p(where, 8)])
    if len(rows) > 1:
        table = Table(rows, colWidths=[50 * mm, 65 * mm, 59 * mm], repeatRows=1)
        style = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                 ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                 ("VALIGN", (0, 0), (-1, -1), "TOP")]
        style += [("BACKGROUND", (0, n), (-1, n), HIGHLIGHT) for n in marked]
        table.setStyle(TableStyle(style))
        story.append(table)
    else:
        story.append(_p("该事项尚未配置申请表字段，请在一网通办按办事指南填写。"))
    story += [Spacer(1, 8), _p("申请材料", 12, spaceAfter=4)]
    for m in filled.materials:
        mark = f"√ 登记信息已证明（{'、'.join(m.proven_by)}）" if m.proven else "待提供"
        story.append(_p(f"· {m.name}　—　{mark}"))
    if not filled.materials:
        story.append(_p("（无需另行提供材料）"))
    story += [Spacer(1, 12),
              _p("本表由企业管家小宝根据登记信息和您在政策体检中填报的内容预先填写，仅为草稿："
                 "请逐项核对、补全【待填写】的内容后再提交。", 9),
              _p(f"办理入口（一网通办）：{filled.apply or '请在一网通办搜索该事项'}", 9)]
    doc.build(story)
    return out.getvalue()
