"""Print the SDL of the schema (``make schema`` writes it to schema.graphql)."""

from graphql_api.schema import schema


def sdl() -> str:
    return schema.as_str() + "\n"


if __name__ == "__main__":
    print(sdl(), end="")
