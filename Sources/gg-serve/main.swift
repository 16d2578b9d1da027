ServeTool.main()
