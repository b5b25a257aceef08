"""Online experiment analysis: the report that attaches to a promotion request as online evidence."""
