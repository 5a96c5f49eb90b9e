"""Reports: ``report.html`` and PNG figures for one or more run directories (:mod:`~recsim_lab.report.report`)."""
