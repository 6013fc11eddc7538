"""Customer-service KPIs from interaction logs (``docs/kpi-definitions.md``)."""

from custrec.kpi.engine import KPI_KEYS, KpiOptions, KpiResult, compute_kpis

__all__ = ["KPI_KEYS", "KpiOptions", "KpiResult", "compute_kpis"]
