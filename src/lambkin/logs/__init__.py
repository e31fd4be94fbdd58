"""Log streams per environment, START/END/REPORT lines, tail and filter."""
