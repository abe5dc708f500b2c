"""OpenAPI document of /api/v1 (served at /api/v1/openapi.json)."""

_ERROR = {
    "type": "object",
    "required": ["error", "reason"],
    "properties": {
        "error": {"type": "string", "description": "Chinese message for the voter"},
        "reason": {
            "type": "string",
            "enum": ["bad_request", "unknown_code", "void_slip", "unknown_round", "round_not_open", "already_voted", "invalid_ballot"],
        },
    },
}


def _error_response(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


_CODE = {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}, "description": "Slip code, any case, hyphens optional"}

OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "CePing 测评票决 API",
        "version": "1.0.0",
        "description": "Cast 民主测评 ballots with a one-time slip code. One ballot per slip per round (R7); ballots are anonymous (R23).",
    },
    "paths": {
        "/api/v1/ballot/{code}": {
            "get": {
                "summary": "The slip's rounds, whether it has voted in each, and the open rounds' ballots",
                "parameters": [_CODE],
                "responses": {
                    "200": {"description": "The slip's rounds", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SlipBallot"}}}},
                    "403": _error_response("The slip was voided"),
                    "404": _error_response("Unknown or malformed code"),
                },
            }
        },
        "/api/v1/ballot/{code}/rounds/{round_id}": {
            "post": {
                "summary": "Cast this slip's ballot in a round",
                "parameters": [_CODE, {"name": "round_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Cast"}}},
                },
                "responses": {
                    "201": {"description": "Cast", "content": {"application/json": {"schema": {"type": "object", "properties": {"status": {"const": "cast"}, "message": {"type": "string"}, "receipt": {"type": "string", "description": "回执码: listed after publication; never shown with the ballot's contents"}}}}}},
                    "400": _error_response("Body is not a JSON object with marks"),
                    "403": _error_response("The slip was voided"),
                    "404": _error_response("Unknown code or round"),
                    "409": _error_response("Already voted in this round (此码本轮已投票), or the round is not open"),
                    "422": _error_response("A target or level that is not on the ballot"),
                },
            }
        },
    },
    "components": {
        "schemas": {
            "Error": _ERROR,
            "Cast": {
                "type": "object",
                "description": "测评 rounds take marks; 差额票决 rounds take choices (at most the round's seats: more is refused, 422).",
                "properties": {
                    "choices": {
                        "type": "array",
                        "items": {"type": ["integer", "string"]},
                        "description": "差额票决: the candidates (target ids) marked 同意; none is a valid ballot (R11)",
                    },
                    "marks": {
                        "type": "object",
                        "description": "Target id → level index: 0 好/优秀, 1 较好/称职, 2 一般/基本称职, 3 差/不称职; null or absent = 弃权 (R13)",
                        "additionalProperties": {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
                    },
                    "items": {
                        "type": "object",
                        "description": "Target id → answers to the round's items (R9, R15, R18); a ballot over the round's top-level cap is refused (422)",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {
                                "dimensions": {"type": "object", "additionalProperties": {"type": ["integer", "null"], "minimum": 0, "maximum": 3}},
                                "reverse": {"type": "array", "items": {"type": "integer"}},
                                "intent": {"type": ["integer", "null"]},
                            },
                        },
                    },
                },
            },
            "Items": {
                "type": "object",
                "properties": {
                    "dimensions": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "label": {"type": "string"}, "weight": {"type": ["string", "null"]}}}},
                    "reverse": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "label": {"type": "string"}}}},
                    "intent": {"type": "array", "items": {"type": "object", "properties": {"id": {"type": "integer"}, "label": {"type": "string"}}}},
                    "top_cap": {"type": ["integer", "null"], "description": "每票最高等次不超过的个数"},
                },
            },
            "SlipBallot": {
                "type": "object",
                "properties": {
                    "meeting": {"type": "object", "properties": {"id": {"type": "integer"}, "title": {"type": "string"}}},
                    "category": {"type": "string"},
                    "rounds": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["id", "title", "state", "has_voted"],
                            "properties": {
                                "id": {"type": "integer"},
                                "title": {"type": "string"},
                                "kind": {"enum": ["evaluation", "selection"]},
                                "seats": {"type": "integer", "description": "差额票决: 应选名额 K"},
                                "state": {"enum": ["draft", "open", "closed", "published"]},
                                "has_voted": {"type": "boolean"},
                                "items": {"type": "object", "description": "Per target kind, what the round asks besides the overall grade", "additionalProperties": {"$ref": "#/components/schemas/Items"}},
                                "targets": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "properties": {
                                            "id": {"type": "integer"},
                                            "kind": {"enum": ["team", "person"]},
                                            "name": {"type": "string"},
                                            "unit": {"type": "string"},
                                            "title": {"type": "string"},
                                            "levels": {"type": "array", "items": {"type": "string"}, "minItems": 4, "maxItems": 4},
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        }
    },
}
