import redis


def test_healthz_reports_database_and_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_healthz_says_degraded_when_redis_is_down(client, services, monkeypatch):
    monkeypatch.setattr(services, "redis", redis.Redis(host="127.0.0.1", port=1,
                                                       socket_connect_timeout=0.2))
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"] == "down"


def test_metrics_exposes_gateway_counters(client, rasa):
    client.get("/")
    client.post("/api/chat/messages", json={"text": "你好"})
    text = client.get("/metrics").text
    assert "xiaobao_chat_messages_total" in text
    assert 'xiaobao_chat_messages_total{route="bot"}' in text
    assert "xiaobao_rasa_turn_seconds_bucket" in text


def test_unknown_path_gets_the_error_shape(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found",
                                         "message": "找不到该地址 / Not found"}}


def test_pages_carry_a_strict_content_security_policy(client):
    csp = client.get("/").headers["content-security-policy"]
    assert "default-src 'self'" in csp and "unsafe-inline" not in csp
