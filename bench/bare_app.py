"""The comparison point for bench.ingest_http: a bare Flask endpoint inserting one row, on the same stack."""
import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"], pool_pre_ping=True)


@app.post("/bare")
def bare():
    data = request.get_json()
    with engine.begin() as conn:
        row_id = conn.execute(text("INSERT INTO bench_bare (external_id, email, amount) VALUES (:e, :m, :a) "
                                   "RETURNING id"), {"e": data["external_id"], "m": data["email"],
                                                     "a": data["amount"]}).scalar()
    return jsonify({"id": row_id}), 201
