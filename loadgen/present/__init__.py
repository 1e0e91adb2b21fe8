"""What people read: the run summary and progress line, the plots and the HTML reports, built
from stored results and analyses alone.

May import: loadgen.workloads, loadgen.results, loadgen.servers,
loadgen.analysis.
"""
