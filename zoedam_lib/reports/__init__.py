"""What notebooks 01 and 06 print: tables with intervals, figures' data, the results page, seed spread."""
