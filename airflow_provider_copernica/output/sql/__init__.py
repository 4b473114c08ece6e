"""Loading into a database table through the connection's Airflow SQL hook (a common.sql
``DbApiHook``): table setup and type mapping (``tables``), one dialect per database family
with its bulk path (``dialects``), the write modes (``modes``) and one run's load (``load``).
See docs/databases.md."""
