from fastapi_example.cli import main

main()
