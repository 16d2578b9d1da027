FetchTool.main()
