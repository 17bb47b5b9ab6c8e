"""A hand-written exposition, as `pulse exporter` serves it, for the tests of `pulse top`.

Property `shop`, window `5m`; a `1h` window and a `blog` property are decoys that must not show.
Zero denominators leave only the sample size: the e-mail open ratio and the CSAT of survey q3.
"""

from __future__ import annotations

TAKEN_S = 1_700_002_800.0  # 2023-11-14T23:00:00Z

TEXT = """\
# HELP pulse_up 1 when the exporter can read the store, else 0.
# TYPE pulse_up gauge
pulse_up 1.0
# TYPE pulse_events_total counter
pulse_events_total{topic="clickstream",type="clickstream.page_view"} 1200.0
pulse_events_total{topic="clickstream",type="clickstream.click"} 34.0
pulse_events_total{topic="email",type="email.sent"} 300.0
# TYPE pulse_events_rejected_total counter
pulse_events_rejected_total{reason="invalid_json",topic="clickstream"} 2.0
pulse_events_rejected_total{reason="missing_field",topic="email"} 1.0
# TYPE pulse_events_duplicate_total counter
pulse_events_duplicate_total{topic="clickstream"} 5.0
pulse_events_duplicate_total{topic="email"} 0.0
# TYPE pulse_events_late_total counter
pulse_events_late_total{topic="clickstream"} 0.0
# TYPE pulse_last_event_timestamp_seconds gauge
pulse_last_event_timestamp_seconds{topic="clickstream"} 1.700002788e+09
pulse_last_event_timestamp_seconds{topic="email"} 1.7000026e+09
# TYPE pulse_consumer_lag gauge
pulse_consumer_lag{partition="0",topic="clickstream"} 40.0
pulse_consumer_lag{partition="1",topic="clickstream"} 2.0
# TYPE pulse_page_views gauge
pulse_page_views{property="shop",window="5m"} 12345.0
pulse_page_views{property="shop",window="1h"} 99999.0
pulse_page_views{property="blog",window="5m"} 7.0
# TYPE pulse_unique_visitors gauge
pulse_unique_visitors{property="shop",window="5m"} 2034.0
# TYPE pulse_sessions gauge
pulse_sessions{property="shop",window="5m"} 2500.0
# TYPE pulse_bounce_ratio gauge
pulse_bounce_ratio{property="shop",window="5m"} 0.4212
pulse_bounce_ratio{property="shop",window="1h"} 0.9
# TYPE pulse_bounce_ratio_lower gauge
pulse_bounce_ratio_lower{property="shop",window="5m"} 0.40196
# TYPE pulse_bounce_ratio_upper gauge
pulse_bounce_ratio_upper{property="shop",window="5m"} 0.44071
# TYPE pulse_session_duration_seconds gauge
pulse_session_duration_seconds{property="shop",window="5m"} 95.4
# TYPE pulse_email_sent gauge
pulse_email_sent{property="shop",window="5m"} 300.0
# TYPE pulse_email_delivered gauge
pulse_email_delivered{property="shop",window="5m"} 0.0
# TYPE pulse_email_delivery_ratio gauge
pulse_email_delivery_ratio{property="shop",window="5m"} 0.0
# TYPE pulse_email_open_ratio_sample_size gauge
pulse_email_open_ratio_sample_size{property="shop",window="5m"} 0.0
# TYPE pulse_email_bounce_ratio gauge
pulse_email_bounce_ratio{property="shop",window="5m"} 0.01
# TYPE pulse_social_interactions gauge
pulse_social_interactions{kind="likes",platform="x",property="shop",window="5m"} -2.0
pulse_social_interactions{kind="comments",platform="x",property="shop",window="5m"} 12.0
pulse_social_interactions{kind="shares",platform="linkedin",property="shop",window="5m"} 30.0
# TYPE pulse_social_engagement_ratio gauge
pulse_social_engagement_ratio{platform="x",property="shop",window="5m"} 0.05
pulse_social_engagement_ratio{platform="linkedin",property="shop",window="5m"} 0.1234
# TYPE pulse_social_engagement_ratio_sample_size gauge
pulse_social_engagement_ratio_sample_size{platform="x",property="shop",window="5m"} 200.0
pulse_social_engagement_ratio_sample_size{platform="linkedin",property="shop",window="5m"} 243.0
# TYPE pulse_social_share_of_voice_ratio gauge
pulse_social_share_of_voice_ratio{property="shop",window="5m"} 0.375
# TYPE pulse_nps_score gauge
pulse_nps_score{property="shop",survey="default",window="5m"} 64.0
# TYPE pulse_nps_score_sample_size gauge
pulse_nps_score_sample_size{property="shop",survey="default",window="5m"} 100.0
# TYPE pulse_nps_score_lower gauge
pulse_nps_score_lower{property="shop",survey="default",window="5m"} 52.4
# TYPE pulse_nps_score_upper gauge
pulse_nps_score_upper{property="shop",survey="default",window="5m"} 75.6
# TYPE pulse_csat_ratio gauge
pulse_csat_ratio{property="shop",survey="default",window="5m"} 0.8
# TYPE pulse_csat_ratio_sample_size gauge
pulse_csat_ratio_sample_size{property="shop",survey="default",window="5m"} 50.0
pulse_csat_ratio_sample_size{property="shop",survey="q3",window="5m"} 0.0
# TYPE pulse_ces_score gauge
pulse_ces_score{property="shop",survey="default",window="5m"} 5.25
# TYPE pulse_ces_responses gauge
pulse_ces_responses{property="shop",survey="default",window="5m"} 8.0
# TYPE pulse_active_customers gauge
pulse_active_customers{plan="pro",property="shop"} 1200.0
pulse_active_customers{plan="free",property="shop"} 34.0
pulse_active_customers{plan="pro",property="blog"} 5.0
# TYPE pulse_churn_ratio gauge
pulse_churn_ratio{property="shop",window="5m"} 0.0123
# TYPE pulse_retention_ratio gauge
pulse_retention_ratio{property="shop",window="5m"} 0.9877
# TYPE pulse_average_order_value gauge
pulse_average_order_value{currency="EUR",property="shop",window="5m"} 41.5
pulse_average_order_value{currency="USD",property="shop",window="5m"} 1234.567
# TYPE pulse_average_order_value_sample_size gauge
pulse_average_order_value_sample_size{currency="EUR",property="shop",window="5m"} 10.0
pulse_average_order_value_sample_size{currency="USD",property="shop",window="5m"} 3.0
"""
