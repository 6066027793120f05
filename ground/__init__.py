"""The ground floor: what every stage may use, and which uses no stage.

Configuration loading and the one strict base model (:mod:`ground.config`), the source registry built
from ``config/sources.yaml`` alone (:mod:`ground.sources`), the night folder's layout
(:mod:`ground.layout`), the state database's base and engine (:mod:`ground.state`), logging with
redaction (:mod:`ground.logs`), the one CSV-injection-safe writer (:mod:`ground.safe_csv`), the one
NHS-number check (:mod:`ground.nhs`) and deployment settings (:mod:`ground.settings`).
"""
