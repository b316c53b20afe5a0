"""The event-log template: an .xlsx with an Events sheet (the event log's columns, typed, with a
drop-down of the known activities), a Cases sheet for case attributes and an Instructions sheet
(the activity catalogue and the formats). `l2c template` writes it; the file source reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..warehouse.publish import replace_file


@dataclass(frozen=True)
class Column:
    header: str
    key: str
    kind: str  # text, datetime, number, percent, boolean
    required: bool
    help: str


EVENT_COLUMNS = (
    Column(
        "Opportunity ID",
        "case_id",
        "text",
        True,
        "the case: the opportunity's id (or a lead's id while it has no opportunity)",
    ),
    Column(
        "Activity",
        "activity",
        "text",
        True,
        "what happened: one of the activities on this sheet's drop-down",
    ),
    Column(
        "Event timestamp",
        "timestamp",
        "datetime",
        True,
        "when it happened, e.g. 2026-03-01 14:05 (UTC)",
    ),
    Column("Sales rep", "resource_name", "text", False, "who did it"),
    Column("Opportunity stage", "stage", "text", False, "the opportunity's stage at the time"),
    Column("Amount", "amount", "number", False, "the opportunity's amount"),
    Column("Is won", "is_won", "boolean", False, "TRUE once the deal is won"),
    Column("Discount %", "discount_pct", "percent", False, "discount granted, 0 to 100"),
)
CASE_COLUMNS = (
    Column("Opportunity ID", "case_id", "text", True, "the case, as on the Events sheet"),
    Column("Sales rep", "sales_rep", "text", False, "the owner of the deal"),
    Column("Team", "team", "text", False, "the rep's team"),
    Column("Region", "region", "text", False, "the rep's region"),
    Column("Product category", "product_family", "text", False, "product family of the deal"),
    Column("Account", "account_name", "text", False, "the customer"),
    Column("Segment", "segment", "text", False, "the customer's segment"),
    Column("Lead source", "lead_source", "text", False, "where the lead came from"),
    Column("Invoice type", "invoice_type", "text", False, "New Business or Existing Business"),
    Column("Amount", "amount", "number", False, "the deal's amount"),
    Column("Discount %", "discount_pct", "percent", False, "discount granted, 0 to 100"),
    Column("Is won", "is_won", "boolean", False, "TRUE when the deal was won"),
)
EVENTS_SHEET, CASES_SHEET, INSTRUCTIONS_SHEET = "Events", "Cases", "Instructions"
_FORMATS = {
    "datetime": "yyyy-mm-dd hh:mm:ss",
    "number": "#,##0.00",
    "percent": "0.0",
    "boolean": "General",
    "text": "@",
}
TEMPLATE_ROWS = 100_000  # rows the drop-downs and checks cover


def write_template(
    path: Path, activities: list[tuple[str, str, str]], example: list[dict] | None = None
) -> Path:
    """Write the template to `path`. `activities`: (activity, family, description) rows of the
    catalogue; `example`: optional event rows (keys as in EVENT_COLUMNS) to show the format."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    bold = Font(bold=True, color="FFFFFF")
    fill = PatternFill("solid", fgColor="243B53")

    def header(sheet, columns) -> None:
        for index, column in enumerate(columns, start=1):
            cell = sheet.cell(row=1, column=index, value=column.header)
            cell.font, cell.fill = bold, fill
            dimension = sheet.column_dimensions[cell.column_letter]
            dimension.width = max(14, len(column.header) + 4)
            dimension.number_format = _FORMATS[column.kind]  # the column's type, for new rows too
        sheet.freeze_panes = "A2"

    events = workbook.active
    events.title = EVENTS_SHEET
    header(events, EVENT_COLUMNS)
    instructions = workbook.create_sheet(INSTRUCTIONS_SHEET)
    cases = workbook.create_sheet(CASES_SHEET)
    header(cases, CASE_COLUMNS)

    # Instructions: how to fill it, the formats, then the activity catalogue the drop-down uses.
    lines = [
        ("How to fill this template", None),
        (
            "One row per event on the Events sheet; one row per case on the Cases sheet (optional).",
            None,
        ),
        ("Keep the sheet names and the header row as they are; add rows below.", None),
        ("Timestamps: a date and time cell, or text like 2026-03-01 14:05:00 (read as UTC).", None),
        ("Is won: TRUE or FALSE. Discount %: a number from 0 to 100. Amount: a number.", None),
        ("Load it with L2C_SOURCE=file L2C_EVENT_LOG_FILE=<this file> l2c run.", None),
        ("", None),
    ]
    for row, (text, _) in enumerate(lines, start=1):
        instructions.cell(row=row, column=1, value=text)
    instructions.cell(row=1, column=1).font = Font(bold=True, size=13)
    columns_row = len(lines) + 1
    instructions.cell(row=columns_row, column=1, value="Sheet").font = Font(bold=True)
    instructions.cell(row=columns_row, column=2, value="Column").font = Font(bold=True)
    instructions.cell(row=columns_row, column=3, value="Required").font = Font(bold=True)
    instructions.cell(row=columns_row, column=4, value="Meaning").font = Font(bold=True)
    row = columns_row + 1
    for sheet_name, columns in ((EVENTS_SHEET, EVENT_COLUMNS), (CASES_SHEET, CASE_COLUMNS)):
        for column in columns:
            for col, value in enumerate(
                (sheet_name, column.header, "yes" if column.required else "no", column.help),
                start=1,
            ):
                instructions.cell(row=row, column=col, value=value)
            row += 1
    row += 1
    instructions.cell(row=row, column=1, value="Activity").font = Font(bold=True)
    instructions.cell(row=row, column=2, value="Family").font = Font(bold=True)
    instructions.cell(row=row, column=4, value="Meaning").font = Font(bold=True)
    first_activity = row + 1
    for offset, (activity, family, description) in enumerate(activities):
        instructions.cell(row=first_activity + offset, column=1, value=activity)
        instructions.cell(row=first_activity + offset, column=2, value=family)
        instructions.cell(row=first_activity + offset, column=4, value=description)
    last_activity = first_activity + len(activities) - 1
    for letter, width in (("A", 30), ("B", 22), ("C", 10), ("D", 80)):
        instructions.column_dimensions[letter].width = width
    instructions.cell(row=1, column=1).alignment = Alignment(vertical="top")

    activity_list = DataValidation(
        type="list",
        formula1=f"={INSTRUCTIONS_SHEET}!$A${first_activity}:$A${last_activity}",
        allow_blank=False,
        showErrorMessage=True,
        errorTitle="Unknown activity",
        error="Pick an activity from the list (Instructions sheet).",
    )
    activity_list.add(f"B2:B{TEMPLATE_ROWS + 1}")
    events.add_data_validation(activity_list)
    for sheet, columns in ((events, EVENT_COLUMNS), (cases, CASE_COLUMNS)):
        for index, column in enumerate(columns, start=1):
            letter = sheet.cell(row=1, column=index).column_letter
            if column.kind == "boolean":
                check = DataValidation(type="list", formula1='"TRUE,FALSE"', allow_blank=True)
            elif column.kind == "percent":
                check = DataValidation(
                    type="decimal", operator="between", formula1="0", formula2="100"
                )
            elif column.kind == "datetime":
                check = DataValidation(type="date", operator="greaterThan", formula1="1")
            else:
                continue
            check.add(f"{letter}2:{letter}{TEMPLATE_ROWS + 1}")
            sheet.add_data_validation(check)
    for row_index, event in enumerate(example or [], start=2):
        for col, column in enumerate(EVENT_COLUMNS, start=1):
            events.cell(row=row_index, column=col, value=event.get(column.key))

    return replace_file(Path(path), lambda partial: workbook.save(partial))
